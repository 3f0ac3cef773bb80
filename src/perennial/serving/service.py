"""The serving state and its life: models by alias, hot reload, canary ramp, shadow, logging.

Started and stopped explicitly (by the app's lifespan). Models load in a loader thread
beside the ones serving; the new set is swapped in by one assignment; predict calls run in
the batcher's single worker thread; everything else happens on the event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
from typing import Any

from perennial.config import Config
from perennial.core.promotion import unrecorded_move
from perennial.errors import RegistryError
from perennial.io.ledger import Ledger
from perennial.io.prediction_store import open_store
from perennial.io.registry import CHALLENGER, Registry, rollback
from perennial.serving.batching import MicroBatcher
from perennial.serving.metrics import ServiceMetrics
from perennial.serving.prediction_log import PredictionLog
from perennial.serving.predictor import Job, Outcome, Predictor
from perennial.serving.routing import CanaryRamp, to_challenger
from perennial.serving.schema import Parsed
from perennial.serving.shadow import ShadowComparison
from perennial.serving.slots import LoadedModel, ModelSet, ModelSlot, build_model_set, load_version
from perennial.settings import Settings

log = logging.getLogger("perennial.serving")


def limit_worker_threads() -> None:
    """One OpenMP/BLAS thread in the predict worker: the cores go to batches, not to thread fights."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


class Service:
    def __init__(self, config: Config, settings: Settings, registry: Registry | None = None) -> None:
        self.config, self.settings, self.serving = config, settings, config.serving
        self.registry = registry or Registry(config.tracking.registered_model)
        self.slot = ModelSlot()
        self.ramp = CanaryRamp(config.serving.canary)
        # the config's mode until `perennial release` sets one on the registered model
        self.mode: str = config.serving.mode
        self.shadow: ShadowComparison | None = None
        self.last_reload_error: str | None = None
        self.metrics = ServiceMetrics(self.snapshot)
        self.prediction_log = PredictionLog(
            open_store(config, settings.root),
            model_name=self.registry.name,
            threshold=config.evaluation.threshold,
            time_column=config.data.time_column,
            feature_columns=config.data.features.columns,
            task=config.task,
        )
        self.predictor = Predictor(self.prediction_log, self._shadow_for, self.metrics.shadow_errors.inc)
        self.batcher: MicroBatcher[Job, Outcome] = MicroBatcher(
            self.predictor.run,
            max_rows=self.serving.batch_max_rows,
            max_wait_s=self.serving.batch_wait_ms / 1000,
            after=self.predictor.after,
            initializer=limit_worker_threads,
            on_batch=self.metrics.observe_batch,
        )
        self._reload_lock: asyncio.Lock | None = None
        self._ledger: Ledger | None = None
        self._refusals_logged: set[str] = set()
        self._poller: asyncio.Task[None] | None = None
        # Set by the process owner (`perennial serve`). A full collection walks every object the
        # libraries made at import (MLflow, pandas...): ~200 ms of stalled event loop, seen as a
        # p99 spike. Frozen, those objects are skipped; reference counting still frees them.
        self.freeze_heap = False
        self._variant_counters = {v: self.metrics.predictions.labels(v) for v in ("champion", "challenger")}

    # --- life ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._reload_lock = asyncio.Lock()
        self.prediction_log.start()
        await self.batcher.start()
        try:
            await self.reload()
        except Exception as exc:  # not ready yet: /ready says so and the poller keeps trying
            self.last_reload_error = str(exc)
            log.error("no model to serve yet: %s", exc)
        if self.freeze_heap:
            gc.collect()
            gc.freeze()
        self._poller = asyncio.create_task(self._poll(), name="perennial-reload-poller")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
        await self.batcher.stop()
        await asyncio.to_thread(self.prediction_log.stop)
        if self._ledger is not None:
            self._ledger.close()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.serving.reload_interval_seconds)
            try:
                await self.reload()
            except Exception as exc:  # a registry hiccup must not stop serving the loaded models
                self.last_reload_error = str(exc)
                self.metrics.reloads.labels("failed").inc()
                log.warning("reload failed, still serving %s: %s", self.versions(), exc)

    # --- models -------------------------------------------------------------------------------

    @property
    def models(self) -> ModelSet | None:
        return self.slot.current

    def versions(self) -> dict[str, str | None]:
        current = self.slot.current
        champion, challenger = current.versions if current else (None, None)
        return {"champion": champion, "challenger": challenger}

    async def _load(self, version: str, role: str) -> LoadedModel:
        current = self.slot.current
        for loaded in (current.champion, current.challenger) if current else ():
            if loaded is not None and loaded.version == version:
                return loaded if loaded.role == role else dataclasses.replace(loaded, role=role)
        log.info("loading %s v%s beside the serving models", role, version)
        return await asyncio.to_thread(load_version, self.registry, version, role, self.config)

    async def reload(self) -> dict[str, Any]:
        """Follow the aliases: load what moved beside the serving set, then swap it in."""
        assert self._reload_lock is not None, "the service is not started"
        async with self._reload_lock:
            alias, current = self.serving.alias, self.slot.current
            aliases, released, allowed = await asyncio.to_thread(self.registry.release_state)
            mode = released or self.serving.mode
            # release.decide auto: the canary grows only as far as delayed outcomes allow (the first step at least)
            self.ramp.cap = (allowed or 0) if self.config.release.decide == "auto" else None
            champion_v = aliases.get(alias)
            challenger_v = aliases.get(CHALLENGER) if mode != "champion" else None
            if champion_v is None:
                if current is None:
                    raise RegistryError(
                        f"model '{self.registry.name}' has no '{alias}' alias: train and promote a model first"
                    )
                return {"changed": False, **self.versions()}  # alias gone: keep serving what we have
            challenger_v = None if challenger_v == champion_v else challenger_v
            refused = await asyncio.to_thread(self._unrecorded, {alias: champion_v, CHALLENGER: challenger_v})
            if alias in refused:  # keep serving what the ledger put there; not ready if nothing yet
                if current is None:
                    raise RegistryError(refused[alias])
                self.last_reload_error = refused[alias]
                return {"changed": False, "refused": refused[alias], **self.versions()}
            if CHALLENGER in refused:
                self.last_reload_error, challenger_v = refused[CHALLENGER], None
            if current is not None and current.versions == (champion_v, challenger_v) and mode == self.mode:
                return {"changed": False, **self.versions()}
            champion = await self._load(champion_v, "champion")
            challenger = None
            if challenger_v is not None:
                try:
                    challenger = await self._load(challenger_v, "challenger")
                except Exception as exc:  # serve the champion alone; the next poll retries
                    self.last_reload_error = f"challenger v{challenger_v}: {exc}"
                    log.error("cannot load challenger v%s: %s", challenger_v, exc)
            self._swap(build_model_set(champion, challenger, self.config), mode)
            if self.freeze_heap:
                gc.freeze()
            self.last_reload_error = None
            self.metrics.reloads.labels("changed").inc()
            return {"changed": True, **self.versions()}

    def _unrecorded(self, wanted: dict[str, str | None]) -> dict[str, str]:
        """Aliases that point where no ledger move put them, with why (logged and counted once each)."""
        if self._ledger is None:
            self._ledger = Ledger(self.settings.ledger_url)
        out: dict[str, str] = {}
        for alias, version in wanted.items():
            if version is None:
                continue
            last = self._ledger.history(self.registry.name, alias=alias, limit=1)
            reason = unrecorded_move(alias, version, last[0].version if last else None)
            if reason is None:
                continue
            out[alias] = reason
            if reason not in self._refusals_logged:
                self._refusals_logged.add(reason)
                self.metrics.refused.labels(alias).inc()
                log.error("%s; still serving %s", reason, self.versions())
        return out

    def _swap(self, new: ModelSet, mode: str) -> None:
        old = self.slot.swap(new)
        new_challenger = new.challenger.version if new.challenger else None
        if old is None or old.versions != new.versions or mode != self.mode:
            self.mode = mode
            canary = mode == "canary" and new_challenger is not None
            self.ramp.start(new_challenger if canary else None)
            shadow = mode == "shadow" and new.challenger is not None
            self.shadow = (
                ShadowComparison(new.champion.version, new_challenger, self.config.evaluation.threshold)  # type: ignore[arg-type]
                if shadow
                else None
            )
        log.info("serving %s in %s mode", self.versions(), self.mode)

    def _shadow_for(self, models: ModelSet) -> ShadowComparison | None:
        shadow = self.shadow
        if shadow is None or models.challenger is None:
            return None
        same = (shadow.champion_version, shadow.challenger_version) == models.versions
        return shadow if same else None

    async def rollback(self, reason: str) -> dict[str, Any]:
        """Move the alias back through the ledger, then serve what it points at."""

        def move() -> Any:
            ledger = Ledger(self.settings.ledger_url)
            try:
                return rollback(self.registry, ledger, reason, alias=self.serving.alias)
            finally:
                ledger.close()

        entry = await asyncio.to_thread(move)
        await self.reload()
        return {"from": entry.previous_version, "to": entry.version, "reason": reason, **self.versions()}

    # --- requests -----------------------------------------------------------------------------

    def job(self, models: ModelSet, parsed: Parsed) -> Job:
        """The request's rows, with the canary's sticky choice per id."""
        canary = None
        if self.mode == "canary" and models.challenger is not None and self.ramp.version == models.challenger.version:
            share = self.ramp.share
            if share > 0:
                canary = [to_challenger(i, share) for i in parsed.ids]
                canary = canary if any(canary) else None
        return Job(models, parsed, canary)

    def settle(self, job: Job, outcome: Outcome) -> None:
        """Feed the ramp and the counters once a request is answered (on the event loop)."""
        if outcome.challenger_ms is not None:
            if outcome.challenger_failed:
                self.metrics.canary_fallbacks.inc()
            changed = self.ramp.observe(not outcome.challenger_failed, outcome.challenger_ms)
            if changed is not None:
                level = logging.WARNING if changed.state == "aborted" else logging.INFO
                log.log(level, "canary %s: share %.0f%% %s", changed.state, changed.share * 100, changed.reason or "")
        served = sum(1 for v in outcome.variants if v == "challenger")
        if served:
            self._variant_counters["challenger"].inc(served)
        if served < len(outcome.variants):
            self._variant_counters["champion"].inc(len(outcome.variants) - served)
        for column, n in job.parsed.unseen.items():
            self.metrics.unseen.labels(column).inc(n)

    # --- reports ------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        shadow = self.shadow.report() if self.shadow is not None else None
        return {
            "model": self.registry.name,
            "versions": self.versions(),
            "ready": self.slot.current is not None,
            "canary_share": self.ramp.share if self.mode == "canary" else 0.0,
            "canary_state": self.ramp.status().state,
            "shadow_agreement": shadow.agreement if shadow else None,
            "log_written": self.prediction_log.written,
            "log_dropped": self.prediction_log.dropped,
        }

    def metadata(self) -> dict[str, Any]:
        current = self.slot.current
        return {
            "model_name": self.registry.name,
            "alias": self.serving.alias,
            "mode": self.mode,
            "ready": current is not None,
            "champion": current.champion.describe() if current else None,
            "challenger": current.challenger.describe() if current and current.challenger else None,
            "input": {
                "id_column": self.config.data.id_column,
                "time_column": self.config.data.time_column,
                "max_body_bytes": self.serving.max_body_bytes,
                **(current.schema.describe() if current else {}),
            },
            "threshold": current.champion.threshold if current else self.config.evaluation.threshold,
            "canary": self.ramp.status().to_dict() if self.mode == "canary" else None,
            "shadow": self.shadow.report().to_dict() if self.shadow is not None else None,
            "batching": {
                **self.batcher.stats.to_dict(),
                "max_rows": self.serving.batch_max_rows,
                "max_wait_ms": self.serving.batch_wait_ms,
            },
            "prediction_log": {
                "written": self.prediction_log.written,
                "dropped": self.prediction_log.dropped,
                "failures": self.prediction_log.failures,
            },
            "last_reload_error": self.last_reload_error,
        }
