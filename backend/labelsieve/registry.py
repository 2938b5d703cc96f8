"""Entry-point registry for strategies, learners, augmenters, synthesizers and encoders.

Finding reads distribution metadata only (nothing is imported); loading is lazy and per name.
A plugin that fails to import is reported as :class:`PluginLoadError` naming its distribution,
and never takes the caller down: listings show it with its error instead.

One door: every lookup goes through :func:`get_registries` / :func:`get_registry` (one cached set per
process, like :func:`labelsieve.settings.get_settings`), so ``register``/``unregister``/``refresh`` are
seen by the service, the wrappers and balancing alike. Two distributions claiming one name: the first
found serves, the others are logged and listed under ``conflicts``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from labelsieve.params import constructor_params

SINGULAR = {"strategies": "strategy", "learners": "learner", "augmenters": "augmenter", "synthesizers": "synthesizer",
            "task_types": "task type", "encoders": "encoder"}
GROUPS = {
    "strategies": "labelsieve.strategies",
    "learners": "labelsieve.learners",
    "augmenters": "labelsieve.augmenters",
    "synthesizers": "labelsieve.synthesizers",
    "task_types": "labelsieve.task_types",
    "encoders": "labelsieve.encoders",
}
log = logging.getLogger(__name__)


class UnknownPluginError(KeyError):
    """No plugin of that name in the group. The message lists the available names."""

    def __str__(self) -> str:
        return str(self.args[0])


class PluginLoadError(RuntimeError):
    """A plugin was found but importing it failed."""

    def __init__(self, name: str, package: str, error: BaseException):
        super().__init__(f"plugin {name!r} from package {package!r} failed to load: "
                         f"{type(error).__name__}: {error}")
        self.name = name
        self.package = package
        self.error = error


@dataclass(frozen=True)
class PluginInfo:
    name: str
    group: str
    package: str
    version: str
    value: str  # "module:attr"

    @classmethod
    def from_entry_point(cls, ep: EntryPoint) -> PluginInfo:
        dist = ep.dist
        return cls(
            name=ep.name,
            group=ep.group,
            package=dist.metadata["Name"] if dist is not None else "unknown",
            version=dist.version if dist is not None else "unknown",
            value=ep.value,
        )


class Registry:
    """Plugins of one entry-point group, e.g. ``Registry("strategies")``."""

    def __init__(self, kind: str) -> None:
        if kind not in GROUPS:
            raise ValueError(f"unknown plugin kind {kind!r}; kinds: {sorted(GROUPS)}")
        self.kind = kind
        self.group = GROUPS[kind]
        self._lock = threading.Lock()
        self._found: dict[str, tuple[PluginInfo, EntryPoint | None]] | None = None
        self._loaded: dict[str, Any] = {}
        self._failed: dict[str, PluginLoadError] = {}
        self._local: dict[str, tuple[PluginInfo, Any]] = {}
        self._conflicts: dict[str, list[PluginInfo]] = {}

    # ------------------------------------------------------------------ finding
    def _find(self) -> dict[str, tuple[PluginInfo, EntryPoint | None]]:
        with self._lock:
            if self._found is None:
                found: dict[str, tuple[PluginInfo, EntryPoint | None]] = {}
                conflicts: dict[str, list[PluginInfo]] = {}
                for ep in entry_points(group=self.group):
                    info = PluginInfo.from_entry_point(ep)
                    if ep.name not in found:
                        found[ep.name] = (info, ep)
                        continue
                    kept = found[ep.name][0]
                    if (kept.package, kept.value) != (info.package, info.value):
                        conflicts.setdefault(ep.name, []).append(info)
                        log.warning("%s %r is claimed by %s %s and %s %s; using the one from %s",
                                    SINGULAR[self.kind], ep.name, kept.package, kept.version, info.package,
                                    info.version, kept.package)
                self._found, self._conflicts = found, conflicts
            return self._found

    def refresh(self) -> None:
        """Find the installed entry points again (a package installed since); local registrations stay."""
        with self._lock:
            self._found = None
            self._loaded.clear()
            self._failed.clear()
            self._conflicts = {}

    def conflicts(self) -> dict[str, list[PluginInfo]]:
        """Names claimed by more than one distribution: the ignored claims (the first found serves)."""
        self._find()
        return dict(self._conflicts)

    def names(self) -> list[str]:
        return sorted(set(self._find()) | set(self._local))

    def info(self, name: str) -> PluginInfo:
        if name in self._local:
            return self._local[name][0]
        found = self._find()
        if name not in found:
            raise self._unknown(name)
        return found[name][0]

    def _unknown(self, name: str) -> UnknownPluginError:
        available = ", ".join(self.names()) or "(none installed)"
        singular = SINGULAR[self.kind]
        return UnknownPluginError(f"unknown {singular} {name!r}; available: {available}")

    # ------------------------------------------------------------------ loading
    def register(self, name: str, obj: Any, *, package: str = "local", version: str = "0") -> None:
        """Register an object directly (tests, notebooks); shadows an entry point of that name."""
        info = PluginInfo(name=name, group=self.group, package=package, version=version, value=repr(obj))
        self._local[name] = (info, obj)

    def unregister(self, name: str) -> None:
        self._local.pop(name, None)

    def is_loaded(self, name: str) -> bool:
        """True when ``name`` is imported already, so creating it costs no import (``/setup`` checks)."""
        return name in self._local or name in self._loaded

    def load_error(self, name: str) -> PluginLoadError | None:
        """The error of the last failed import of ``name`` (None when it loaded or was not tried yet)."""
        return None if name in self._local else self._failed.get(name)

    def load(self, name: str) -> Any:
        if name in self._local:
            return self._local[name][1]
        if name in self._loaded:
            return self._loaded[name]
        found = self._find()
        if name not in found:
            raise self._unknown(name)
        info, ep = found[name]
        assert ep is not None
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not take the host down
            error = PluginLoadError(name, info.package, exc)
            log.warning("%s", error)
            self._failed[name] = error
            raise error from exc
        self._failed.pop(name, None)
        self._loaded[name] = obj
        return obj

    def create(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """Instantiate plugin ``name`` with keyword ``params``; bad params raise ValueError."""
        cls = self.load(name)
        try:
            return cls(**(params or {}))
        except TypeError as exc:
            raise ValueError(f"bad parameters for {SINGULAR[self.kind]} {name!r}: {exc}") from exc

    def describe(self) -> list[dict[str, Any]]:
        """One dict per plugin: name, package, version, params (or error when it fails to load)."""
        out: list[dict[str, Any]] = []
        for name in self.names():
            info = self.info(name)
            entry: dict[str, Any] = {"name": name, "package": info.package, "version": info.version}
            if name in self._conflicts and name not in self._local:
                entry["conflicts"] = [f"{c.package} {c.version} ({c.value}), ignored"
                                      for c in self._conflicts[name]]
            try:
                obj = self.load(name)
                entry["params"] = _jsonable(_param_defaults(obj))
                doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
                entry["summary"] = doc[0] if doc else ""
                for attr in ("category", "batch_aware", "needs_model"):
                    if hasattr(obj, attr):
                        entry[attr] = getattr(obj, attr)
            except PluginLoadError as exc:
                entry["params"] = {}
                entry["error"] = str(exc)
            out.append(entry)
        return out


def _param_defaults(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "param_defaults"):
        return dict(obj.param_defaults())
    return constructor_params(obj)


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None or isinstance(value, str | int | float | bool):
            out[key] = value
        elif isinstance(value, list | tuple):
            out[key] = [v if isinstance(v, str | int | float | bool) or v is None else repr(v) for v in value]
        else:
            out[key] = repr(value)
    return out


class Registries:
    """The registries (one per entry-point group); the process-wide set is :func:`get_registries`."""

    def __init__(self) -> None:
        self.strategies = Registry("strategies")
        self.learners = Registry("learners")
        self.augmenters = Registry("augmenters")
        self.synthesizers = Registry("synthesizers")
        self.task_types = Registry("task_types")
        self.encoders = Registry("encoders")

    def of(self, kind: str) -> Registry:
        if kind not in GROUPS:
            raise ValueError(f"unknown plugin kind {kind!r}; kinds: {sorted(GROUPS)}")
        registry: Registry = getattr(self, kind)
        return registry

    def refresh(self) -> None:
        for kind in GROUPS:
            self.of(kind).refresh()


@lru_cache(maxsize=1)
def get_registries() -> Registries:
    """The registries of this process, built once on first use: the one door to every plugin lookup."""
    return Registries()


def get_registry(kind: str) -> Registry:
    """``get_registries().of(kind)``: e.g. ``get_registry("strategies").create("margin", {})``."""
    return get_registries().of(kind)
