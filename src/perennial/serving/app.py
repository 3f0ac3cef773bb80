"""The HTTP face of the service (FastAPI): predict, health, readiness, metadata, metrics, admin.

``POST /predict`` reads the raw body itself (size-capped before parsing), validates it against
the schema of the model set current at arrival, and answers with orjson: FastAPI's own body
model would validate twice and could not follow a model whose signature changes on reload.
Admin routes exist only when ``PERENNIAL_ADMIN_TOKEN`` is set, and compare the bearer token
in constant time.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from perennial.config import Config
from perennial.core.target import class_value
from perennial.errors import RegistryError
from perennial.io import tracking
from perennial.serving.metrics import CONTENT_TYPE, MetricsMiddleware
from perennial.serving.predictor import Outcome
from perennial.serving.schema import Parsed, RequestError
from perennial.serving.service import Service
from perennial.serving.slots import LoadedModel, ModelSet
from perennial.settings import Settings

ADMIN_TOKEN_ENV = "PERENNIAL_ADMIN_TOKEN"
JSON = "application/json"

log = logging.getLogger("perennial.serving")


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status, media_type=JSON)


def _problem(status: int, field: str | None, msg: str, type_: str) -> Response:
    return _json({"detail": [{"field": field, "loc": [field] if field else [], "msg": msg, "type": type_}]}, status)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed ``limit`` bytes (header or stream)."""
    declared = request.headers.get("content-length", "")
    too_big = RequestError(
        413, [{"field": "body", "loc": ["body"], "msg": f"payload exceeds {limit} bytes", "type": "too_large"}]
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_big
    return bytes(body)


def _row(score: Any, model: LoadedModel) -> dict[str, Any]:
    """One row's answer by the version that scored it: the positive label's probability and the
    decided label (in the data's own values, at the version's threshold); the value; or the class
    and each class's probability (the version's own classes: a retrain may have learnt a new one)."""
    if model.task == "regression":
        return {"prediction": score}
    if model.task == "multiclass":
        best = max(range(len(score)), key=score.__getitem__)
        return {
            "label": class_value(model.classes[best]),  # 4 for a target coded 0-9, as the client sent it
            "prediction": score[best],
            "probabilities": dict(zip(model.classes, score, strict=True)),
        }
    return {"prediction": score, "label": model.labels.decode(np.asarray([score >= model.threshold]))[0]}


def _answer(parsed: Parsed, outcome: Outcome, models: ModelSet) -> dict[str, Any]:
    """The JSON answer, each row as the version that scored it (champion, or a canary's challenger) says."""
    champion = models.champion
    by_version = {m.version: m for m in (champion, models.challenger) if m is not None}
    rows = [
        {"id": i, **_row(s, by_version.get(v, champion)), "model_version": v, "variant": variant}
        for i, s, v, variant in zip(parsed.ids, outcome.scores, outcome.versions, outcome.variants, strict=True)
    ]
    head: dict[str, Any] = {"model_name": champion.name}
    if champion.task == "binary":  # which label "prediction" is the probability of
        head["positive_label"] = champion.labels.to_dict()["positive"]
    return {**head, **rows[0]} if parsed.single else {**head, "predictions": rows}


def answer_schema(task: str) -> dict[str, Any]:
    """The OpenAPI schema of one answered row, per task (a batch answers {"predictions": [rows]})."""
    fields: dict[str, Any] = {
        "id": {"type": "string"},
        "model_version": {"type": "string"},
        "variant": {"type": "string", "enum": ["champion", "challenger"]},
    }
    if task == "regression":
        fields["prediction"] = {"type": "number", "description": "the predicted value"}
    elif task == "multiclass":
        fields |= {
            "label": {
                "type": ["string", "integer"],
                "description": "the most probable class (a class coded as a whole number comes back as that number)",
            },
            "prediction": {"type": "number", "description": "the label's probability"},
            "probabilities": {
                "type": "object",
                "additionalProperties": {"type": "number"},
                "description": "each class's probability",
            },
        }
    else:
        fields |= {
            "prediction": {"type": "number", "description": "the positive label's probability"},
            "label": {"description": "the decided label, one of the target's two values (positive_label or the other)"},
        }
    row = {"type": "object", "properties": fields, "required": sorted(fields)}
    batch = {
        "type": "object",
        "properties": {"model_name": {"type": "string"}, "predictions": {"type": "array", "items": row}},
    }
    single = {"type": "object", "properties": {"model_name": {"type": "string"}, **fields}}
    return {"oneOf": [single, batch]}


def _authorised(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def create_app(config: Config, settings: Settings) -> FastAPI:
    """The service for ``config``; models, ledger and prediction store come from ``settings``."""
    tracking.configure(settings)
    service = Service(config, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="Perennial model service", lifespan=lifespan, redoc_url=None)
    app.state.service = service
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    _add_predict_route(app, service, config)
    _add_status_routes(app, service)
    token = os.environ.get(ADMIN_TOKEN_ENV) or None
    if token is not None:
        _add_admin_routes(app, service, token)
    return app


def _add_predict_route(app: FastAPI, service: Service, config: Config) -> None:
    limit = config.serving.max_body_bytes

    answers: dict[int | str, dict[str, Any]] = {
        200: {
            "description": "the prediction(s)",
            "content": {"application/json": {"schema": answer_schema(config.task)}},
        }
    }

    @app.post(
        "/predict", summary='Score one record, or {"records": [...]}; see /metadata for the fields', responses=answers
    )
    async def predict(request: Request) -> Response:
        models = service.models  # the set this request is validated and scored by, even across a swap
        if models is None:
            return _problem(503, None, f"no model loaded yet: {service.last_reload_error or 'loading'}", "not_ready")
        service.batcher.expect()
        try:
            parsed = models.schema.parse(await _read_body(request, limit))
        except RequestError as exc:
            service.batcher.withdraw()
            return _json({"detail": exc.errors}, exc.status)
        except BaseException:
            service.batcher.withdraw()
            raise
        job = service.job(models, parsed)
        try:
            outcome = await service.batcher.submit(job, parsed.rows)
        except Exception as exc:
            log.exception("prediction failed")
            return _problem(500, None, f"prediction failed: {type(exc).__name__}: {exc}", "prediction_failed")
        service.settle(job, outcome)
        answer = _answer(parsed, outcome, models)
        return _json(answer)


def _add_status_routes(app: FastAPI, service: Service) -> None:
    @app.get("/health", summary="Liveness: the process answers")
    async def health() -> Response:
        return _json({"status": "ok"})

    @app.get("/ready", summary="Readiness: a model is loaded and requests are served")
    async def ready() -> Response:
        if service.models is None:
            return _json({"ready": False, "reason": service.last_reload_error or "loading"}, 503)
        return _json({"ready": True, **service.versions()})

    @app.get("/metadata", summary="Models served, input fields, canary and shadow state")
    async def metadata() -> Response:
        return _json(service.metadata())

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)


def _add_admin_routes(app: FastAPI, service: Service, token: str) -> None:
    def refused() -> Response:
        response = _problem(401, "authorization", "a valid bearer token is required", "unauthorized")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.post("/admin/reload", summary="Follow the aliases now (instead of at the next poll)")
    async def reload(request: Request) -> Response:
        if not _authorised(request, token):
            return refused()
        try:
            return _json(await service.reload())
        except Exception as exc:
            return _problem(502, None, f"reload failed, still serving the loaded models: {exc}", "reload_failed")

    @app.post("/admin/rollback", summary="Move the alias back through the ledger and serve it")
    async def rollback(request: Request) -> Response:
        if not _authorised(request, token):
            return refused()
        body = await request.body()
        try:
            reason = (orjson.loads(body) if body else {}).get("reason") or "rollback through the service"
        except (orjson.JSONDecodeError, AttributeError):
            return _problem(400, "body", 'expected {"reason": "..."}', "json_invalid")
        try:
            return _json(await service.rollback(str(reason)))
        except RegistryError as exc:
            return _problem(409, None, str(exc), "rollback_refused")
