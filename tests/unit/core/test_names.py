from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException
from mlflow.utils.validation import _validate_metric_name

from perennial.core.names import tracking_key


def test_a_column_name_becomes_a_key_mlflow_accepts_and_a_valid_key_is_left_alone() -> None:
    # given names a user's table may carry, and keys Perennial writes itself
    odd = ["importance.sepal width (cm)", "importance.petal/sepal %", "drift.a=b", "x" * 300, "importance.élan"]
    ours = ["candidate.roc_auc", "cv_score.hist-gb", "importance.time_hour:month"]
    for name in odd[:3]:  # as written, MLflow refuses them
        with pytest.raises(MlflowException):
            _validate_metric_name(name)
    # when each is made a tracking key / then MLflow's own check accepts it
    for name in odd + ours:
        _validate_metric_name(tracking_key(name))
    # and only the refused characters change: what was valid is kept as written
    assert tracking_key("importance.sepal width (cm)") == "importance.sepal width _cm_"
    assert tracking_key("importance.petal/sepal %") == "importance.petal_sepal _"
    assert [tracking_key(n) for n in ours] == ours
    assert tracking_key("importance.élan") == "importance.élan" and len(tracking_key("x" * 300)) == 250
