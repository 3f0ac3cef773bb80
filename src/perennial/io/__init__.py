"""The edges: files, databases and MLflow. The only modules with side effects."""
