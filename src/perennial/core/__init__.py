"""The pure core: values in, values out. Imports neither perennial.io nor Prefect."""
