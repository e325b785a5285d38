"""The plugin registry: find, list, resolve and instantiate algorithms by kind and name.

Three tiers of laziness (none runs on ``import armour_core``):

1. metadata: entry points of group ``armour_core.plugins`` and their distributions' requirements;
2. hook modules: each plugin's light ``hooks.py`` is imported and its registration hooks are called —
   enough for :func:`kinds`, :func:`names`, :func:`spec` and ``armour plugins``;
3. implementation: :func:`get` / :func:`create` import the record's ``target``.

Failure policy: a plugin whose dependency is missing is *unavailable* (a debug line); any other error while
importing or registering it is *broken* (one warning naming distribution and version; the traceback is kept
in :func:`status`). A hook implementation that matches no hookspec (a misspelled ``armour_attack``) makes
its plugin broken too. The rest keeps working. ``ARMOUR_PLUGINS_STRICT=1`` raises instead of warning: every
query (:func:`names`, :func:`spec`, :func:`get`, ...) raises the first problem, while :func:`status` and
:func:`listing` still describe everything (``armour plugins`` uses them to show what is wrong).
``ARMOUR_PLUGINS_DISABLE=a,b`` blocks plugins and ``ARMOUR_PLUGINS_ONLY=a,b`` allows only those (by
entry-point name, case-insensitive); a name in either that matches no installed plugin is one warning.

Two records sharing a kind and a name or alias are a *conflict*: that name resolves to neither
(:class:`PluginConflictError` naming both distributions, never last-one-wins), every other name keeps
working, and the listing shows both records with state ``conflict``.

Kinds: the built-in ones (:data:`armour_core.specs.KIND_HOOKS`) and those distributions declare through the
``armour_kinds`` hook (:class:`~armour_core.specs.KindSpec`). The build runs in two passes: every plugin module
is loaded and its kinds declared (each declared kind's registration hook becomes a hookspec), then every
plugin's hooks are checked and its records collected, so a plugin may register plugins of a kind another
distribution declares, whatever the load order. A kind declared by two distributions is a conflict like a
clashing name: the kind resolves to neither. Declaring a built-in kind, or a hook name already taken, makes
the declaring plugin broken.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as md
import logging
import os
import threading
import traceback
import warnings
from collections.abc import Iterable
from typing import Any

import attrs

from .errors import ArmourError, PluginConflictError, PluginLoadError, PluginUnavailableError, UnknownPluginError
from .plugins import ENTRY_POINT_GROUP, check_hooks, make_plugin_manager
from .hookspecs import REGISTRATION, kind_hookspecs
from .specs import KIND_BASES, KIND_HOOKS, KINDS, AuditSectionSpec, CommandSpec, KindSpec, PluginSpec, PluginStatus

log = logging.getLogger(__name__)

#: First-party distributions and the kinds they provide, to tell users which ``pip install`` is missing.
FIRST_PARTY: dict[str, tuple[str, ...]] = {
    "armour-plugins-attacks": ("attack", "defense", "detector", "certifier"),
    "armour-plugins-privacy": ("noise", "clip", "accountant", "suppressor", "inference"),
    "armour-plugins-fuzz": ("mutator", "coverage", "scheduler"),
}


class PluginLoadWarning(UserWarning):
    """A plugin distribution is broken; the rest of the registry keeps working."""


def _norm(name: str) -> str:
    """Plugin names compare lower-case with ``-`` and ``_`` alike (entry-point names, env lists, lookups)."""
    return name.strip().lower().replace("-", "_")


def _env_list(var: str) -> set[str]:
    return {_norm(s) for s in os.environ.get(var, "").split(",") if s.strip()}


def _strict() -> bool:
    return os.environ.get("ARMOUR_PLUGINS_STRICT", "").lower() in {"1", "true", "yes", "on"}


def _dist_installed(name: str) -> bool:
    try:
        md.distribution(name)
        return True
    except md.PackageNotFoundError:
        return False


def missing_requirements(requirements: Iterable[str]) -> list[str]:
    """The PEP 508 requirements (markers evaluated, extras ignored) that the environment does not meet."""
    from packaging.requirements import Requirement

    missing = []
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            have = md.version(req.name)
        except md.PackageNotFoundError:
            missing.append(text)
            continue
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            missing.append(f"{text} (have {have})")
    return missing


def _is_missing_dependency(exc: BaseException, own_module: str) -> bool:
    """True when ``exc`` says a *third-party* module is absent (not a bug inside the plugin's package)."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return False
    own_top = own_module.split(".")[0]
    return exc.name.split(".")[0] != own_top


def import_target(target: str) -> Any:
    """Import ``"package.module:Qual.Name"`` and return the object."""
    module_name, _, qualname = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


@attrs.define
class _Entry:
    """One loaded record and what the registry knows about its availability."""

    spec: PluginSpec
    plugin: str
    unavailable: str = ""  # reason, when a requirement is missing


class Registry:
    """A registry instance; the module-level functions use a process-wide one."""

    def __init__(self, entry_points: Iterable[Any] | None = None):
        self._entry_points = entry_points  # None: discover from importlib.metadata
        self._lock = threading.RLock()
        self._built = False
        self._local: list[tuple[Any, str, str, str]] = []
        self._reset_state()

    def _reset_state(self) -> None:
        self._records: list[_Entry] = []  # every record loaded, in load order (conflicting ones too)
        self._entries: dict[tuple[str, str], _Entry] = {}  # (kind, name or alias) -> the one entry owning it
        self._conflicts: dict[tuple[str, str], list[_Entry]] = {}  # (kind, key) -> every entry claiming it
        self._problems: list[tuple[type[Exception], str, BaseException | None]] = []  # raised in strict mode
        self._status: list[PluginStatus] = []
        self._commands: list[CommandSpec] = []
        self._sections: list[AuditSectionSpec] = []
        self._classes: dict[tuple[str, str], Any] = {}
        self._pm = None
        self._kinds: dict[str, list[tuple[KindSpec, str]]] = {}  # declared kind -> [(record, plugin)], 2+: conflict
        self._hooks: list[tuple[str, str]] = list(KIND_HOOKS.items())  # (kind, registration hook) to collect

    # ------------------------------------------------------------------ building
    def reset(self) -> None:
        """Forget everything, in-process registrations included; the next call rebuilds from the
        environment (for tests)."""
        with self._lock:
            self._built = False
            self._local.clear()
            self._reset_state()

    def register(self, plugin: Any, *, name: str, dist: str = "<local>", version: str = "") -> None:
        """Register an in-process plugin object or module (notebooks, tests), as an entry point would."""
        with self._lock:
            self._local.append((plugin, name, dist, version))
            self._built = False
            self._reset_state()

    def _ensure(self) -> None:
        if self._built:
            return
        with self._lock:
            if self._built:
                return
            self._reset_state()
            self._pm = make_plugin_manager()
            eps = (self._entry_points if self._entry_points is not None
                   else md.entry_points(group=ENTRY_POINT_GROUP))
            eps = sorted(eps, key=lambda e: e.name)
            loaded = [item for item in map(self._load_entry_point, eps) if item is not None]
            loaded += [(plugin, name, dist, version, getattr(plugin, "__name__", repr(plugin)), "")
                       for plugin, name, dist, version in self._local]
            declared = [item for item in loaded if self._declare(*item)]  # pass 1: modules and their kinds
            for item in declared:  # pass 2: hooks checked, records collected
                self._load_object(*item)
            self._warn_unmatched_filters({_norm(ep.name) for ep in eps})
            self._built = True

    def _ready(self) -> None:
        """Build, then in strict mode raise the first problem (broken plugin or conflict) found."""
        self._ensure()
        if self._problems and _strict():
            cls, msg, cause = self._problems[0]
            more = f" (and {len(self._problems) - 1} more problem(s): armour plugins lists them)" \
                if len(self._problems) > 1 else ""
            raise cls(msg + more) from cause

    @staticmethod
    def _warn_unmatched_filters(installed: set[str]) -> None:
        """One warning when ARMOUR_PLUGINS_ONLY / _DISABLE name plugins that are not installed (a typo there
        would otherwise silently disable everything, or nothing)."""
        parts = []
        for var in ("ARMOUR_PLUGINS_ONLY", "ARMOUR_PLUGINS_DISABLE"):
            unknown = sorted(_env_list(var) - installed)
            if unknown:
                parts.append(f"{var} names {', '.join(map(repr, unknown))}, which match no installed plugin")
        if parts:
            warnings.warn("; ".join(parts) + f" (installed: {', '.join(sorted(installed)) or 'none'})",
                          PluginLoadWarning, stacklevel=5)

    def _load_entry_point(self, ep: Any) -> tuple | None:
        """Import one entry point's module: ``(module, name, dist, version, path, unavailable)``, or None when it
        is disabled, broken or missing a dependency (recorded in the status)."""
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else "<unknown>"
        version = dist.version if dist is not None else ""
        only, disabled = _env_list("ARMOUR_PLUGINS_ONLY"), _env_list("ARMOUR_PLUGINS_DISABLE")
        base = dict(plugin=ep.name, dist=dist_name, version=version, module=ep.value)
        key = _norm(ep.name)
        if key in disabled or (only and key not in only):
            why = "ARMOUR_PLUGINS_DISABLE" if key in disabled else "not in ARMOUR_PLUGINS_ONLY"
            self._status.append(PluginStatus(state="disabled", error=why, **base))
            return None
        missing = missing_requirements(dist.requires or []) if dist is not None else []
        try:
            module = ep.load()
        except Exception as exc:  # noqa: BLE001 - isolation is the point
            if _is_missing_dependency(exc, ep.value):
                self._unavailable(base, f"missing dependency {exc.name!r}")
            else:
                self._broken(base, exc)
            return None
        return module, ep.name, dist_name, version, ep.value, ("missing " + ", ".join(missing)) if missing else ""

    def _unavailable(self, base: dict, reason: str) -> None:
        log.debug("armour plugin %s (%s %s) unavailable: %s", base["plugin"], base["dist"], base["version"],
                  reason)
        self._status.append(PluginStatus(state="unavailable", error=reason, **base))

    def _broken(self, base: dict, exc: BaseException) -> None:
        tb = "".join(traceback.format_exception(exc))
        msg = (f"armour plugin {base['plugin']!r} from {base['dist']} {base['version']} is broken "
               f"and was skipped: {type(exc).__name__}: {exc}")
        self._status.append(PluginStatus(state="broken", error=f"{type(exc).__name__}: {exc}", traceback=tb,
                                         **base))
        self._problems.append((PluginLoadError, msg, exc))
        if not _strict():  # strict mode raises it from the next query instead
            warnings.warn(msg, PluginLoadWarning, stacklevel=4)

    def _declare(self, obj: Any, name: str, dist: str, version: str, module: str, unavailable: str = "") -> bool:
        """Pass 1: register ``obj`` with the plugin manager and declare the kinds it yields (a declared kind's
        hook gets its spec now, before any plugin's hooks are checked). False when the plugin is broken."""
        try:
            self._pm.register(obj, name=name)
            kinds = []
            for impl in self._pm.hook.armour_kinds.get_hookimpls():
                if impl.plugin_name == name:
                    for rec in impl.function() or ():
                        if not isinstance(rec, KindSpec):
                            raise TypeError(f"armour_kinds yielded {type(rec).__name__}, not KindSpec")
                        kinds.append(attrs.evolve(rec, dist=dist))
            for rec in kinds:
                self._declare_kind(rec, name)
        except Exception as exc:  # noqa: BLE001
            if self._pm.is_registered(obj):
                self._pm.unregister(obj)
            self._broken(dict(plugin=name, dist=dist, version=version, module=module), exc)
            return False
        return True

    def _declare_kind(self, rec: KindSpec, plugin: str) -> None:
        """Add a declared kind and its registration hook; a kind another distribution declares too is a conflict
        (the kind resolves to neither), a built-in kind or a taken hook name an error of the declaring plugin."""
        if rec.name in KIND_HOOKS:
            raise ValueError(f"armour_kinds: kind {rec.name!r} is built into armour-core; declare another name")
        caller = getattr(self._pm.hook, rec.hook, None)
        if (rec.name, rec.hook) not in self._hooks and caller is not None and caller.has_spec():
            owner = next((f"kind {k!r}" for k, h in self._hooks if h == rec.hook), "armour-core")
            raise ValueError(f"armour_kinds: kind {rec.name!r} names hook {rec.hook!r}, which {owner} already uses")
        claims = self._kinds.setdefault(rec.name, [])
        claims.append((rec, plugin))
        if (rec.name, rec.hook) not in self._hooks:
            self._pm.add_hookspecs(kind_hookspecs(rec))
            self._hooks.append((rec.name, rec.hook))
        if len(claims) > 1:
            first, first_plugin = claims[0]
            msg = (f"kind {rec.name!r} is declared twice: by {first.dist} (plugin {first_plugin!r}) and by {rec.dist} "
                   f"(plugin {plugin!r}); uninstall one or block it with ARMOUR_PLUGINS_DISABLE")
            self._problems.append((PluginConflictError, msg, None))
            if not _strict():
                warnings.warn(msg, PluginLoadWarning, stacklevel=6)

    def _load_object(self, obj: Any, name: str, dist: str, version: str, module: str,
                     unavailable: str = "") -> None:
        """Pass 2: check ``obj``'s hooks (every kind is declared by now) and collect its records."""
        base = dict(plugin=name, dist=dist, version=version, module=module)
        try:
            check_hooks(self._pm, obj)
            records: list[PluginSpec] = []
            commands: list[CommandSpec] = []
            for kind, hook_name in self._hooks:
                for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
                    if impl.plugin_name == name:
                        records.extend(self._collect(impl.function, kind, hook_name))
            sections: list[AuditSectionSpec] = []
            for hook_name, cls, out in (("armour_cli_commands", CommandSpec, commands),
                                        ("armour_audit_sections", AuditSectionSpec, sections)):
                for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
                    if impl.plugin_name == name:
                        for rec in impl.function() or ():
                            if not isinstance(rec, cls):
                                raise TypeError(f"{hook_name} yielded {type(rec).__name__}, not {cls.__name__}")
                            out.append(attrs.evolve(rec, dist=dist))
        except Exception as exc:  # noqa: BLE001
            if self._pm.is_registered(obj):
                self._pm.unregister(obj)
            self._broken(base, exc)
            return
        for rec in records:
            rec = attrs.evolve(rec, dist=dist, version=version)
            reason = unavailable
            if not reason and rec.requires:
                missing = missing_requirements(rec.requires)
                reason = ("missing " + ", ".join(missing)) if missing else ""
            self._index(_Entry(spec=rec, plugin=name, unavailable=reason))
        self._commands.extend(commands)
        if not unavailable:
            self._sections.extend(sections)
        state = "unavailable" if unavailable else "ok"
        if unavailable:
            log.debug("armour plugin %s (%s %s): %s", name, dist, version, unavailable)
        self._status.append(PluginStatus(state=state, records=len(records), error=unavailable, **base))

    @staticmethod
    def _collect(function, kind: str, hook_name: str) -> list[PluginSpec]:
        out = []
        for rec in function() or ():
            if not isinstance(rec, PluginSpec):
                raise TypeError(f"{hook_name} yielded {type(rec).__name__}, not PluginSpec")
            if rec.kind != kind:
                raise ValueError(f"{hook_name} yielded {rec.name!r} of kind {rec.kind!r}; expected {kind!r}")
            out.append(rec)
        return out

    def _index(self, entry: _Entry) -> None:
        """Add ``entry`` under its name and aliases; a key claimed twice becomes a conflict owned by no one."""
        kind = entry.spec.kind
        self._records.append(entry)
        for key in dict.fromkeys(entry.spec.names):
            claimants = self._conflicts.get((kind, key))
            if claimants is None and (kind, key) not in self._entries:
                self._entries[(kind, key)] = entry
                continue
            if claimants is None:
                claimants = self._conflicts[(kind, key)] = [self._entries.pop((kind, key))]
            other = claimants[0]
            claimants.append(entry)
            msg = (f"{kind} {key!r} is registered twice: by {other.spec.dist} (plugin {other.plugin!r}, "
                   f"{other.spec.name!r}) and by {entry.spec.dist} (plugin {entry.plugin!r}, "
                   f"{entry.spec.name!r}); uninstall one or block it with ARMOUR_PLUGINS_DISABLE")
            self._problems.append((PluginConflictError, msg, None))
            if not _strict():  # strict mode raises it from the next query instead
                warnings.warn(msg, PluginLoadWarning, stacklevel=5)

    def _conflict_note(self, entry: _Entry) -> str:
        """Empty, or which of ``entry``'s names other distributions also register (for listings)."""
        notes = []
        for key in entry.spec.names:
            others = [e for e in self._conflicts.get((entry.spec.kind, key), ()) if e is not entry]
            if others:
                notes.append(f"{entry.spec.kind} {key!r} also registered by "
                             + ", ".join(f"{e.spec.dist} (plugin {e.plugin})" for e in others))
        return "; ".join(notes)

    def _kind_conflict_note(self, kind: str) -> str:
        claims = self._kinds.get(kind, ())
        if len(claims) < 2:
            return ""
        return f"kind {kind!r} declared by " + " and ".join(f"{rec.dist} (plugin {p})" for rec, p in claims)

    def declared_kinds(self) -> list[KindSpec]:
        """The kinds distributions declare, every declaration (a conflicting kind appears once per declarer);
        never raises for plugin problems (``armour plugins`` lists them)."""
        self._ensure()
        return [rec for claims in self._kinds.values() for rec, _ in claims]

    # ------------------------------------------------------------------ queries
    def kinds(self) -> tuple[str, ...]:
        """Every kind: the built-in ones, then those installed distributions declare (whether or not any plugin
        provides it; a kind declared twice is listed, and refused when used)."""
        self._ensure()
        return KINDS + tuple(self._kinds)

    def kind_spec(self, kind: str) -> KindSpec:
        """The :class:`KindSpec` of ``kind``: built-in kinds' are armour-core's, with the base in ``armour_core.api``
        and their kit checks in ``armour_core.testing.kit``."""
        self._check_kind(kind)
        if kind in KIND_HOOKS:
            return KindSpec(name=kind, hook=KIND_HOOKS[kind], summary=REGISTRATION[kind][0].split(";")[0],
                            base=KIND_BASES[kind], dist="armour-core")
        return self._kinds[kind][0][0]

    def _check_kind(self, kind: str) -> None:
        if kind in KIND_HOOKS:
            return
        self._ensure()
        claims = self._kinds.get(kind)
        if claims is not None and len(claims) > 1:
            who = " and ".join(f"{rec.dist} (plugin {plugin!r})" for rec, plugin in claims)
            raise PluginConflictError(f"kind {kind!r} is declared by both {who}; uninstall one or block it with "
                                      "ARMOUR_PLUGINS_DISABLE")
        if claims is None:
            known = self.kinds()
            close = difflib.get_close_matches(str(kind), known, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            for dist, provided in FIRST_PARTY.items():
                if kind in provided and not _dist_installed(dist):
                    hint += f"; {kind} plugins ship in {dist}, which is not installed: pip install {dist}"
            raise UnknownPluginError(f"kind={kind!r} is not a plugin kind (expected one of {', '.join(known)})"
                                     f"{hint}", kind=kind, name=None, suggestions=tuple(close))

    def names(self, kind: str, *, include_unavailable: bool = False) -> list[str]:
        """Sorted primary names of the plugins of ``kind`` that can be used here; with
        ``include_unavailable`` also those that are installed but unusable (missing dependency, conflict)."""
        self._check_kind(kind)
        self._ready()
        out = set()
        for entry in self._records:
            if entry.spec.kind != kind:
                continue
            usable = self._entries.get((kind, entry.spec.name)) is entry and not entry.unavailable
            if usable or include_unavailable:
                out.add(entry.spec.name)
        return sorted(out)

    def _sorted_records(self, kind: str | None) -> list[_Entry]:
        if kind is not None:
            self._check_kind(kind)
        order = {k: i for i, k in enumerate(self.kinds())}
        return sorted((e for e in self._records if kind is None or e.spec.kind == kind),
                      key=lambda e: (order[e.spec.kind], e.spec.name, e.spec.dist))

    def specs(self, kind: str | None = None) -> list[PluginSpec]:
        """Every record (of one kind, or all), available or not, conflicting ones included, sorted by kind,
        name and distribution."""
        self._ready()
        return [e.spec for e in self._sorted_records(kind)]

    def listing(self, kind: str | None = None) -> list[tuple[PluginSpec, str]]:
        """Every record with its state: ``"ok"``, the reason it is unavailable, or ``"conflict: ..."``.

        Never raises for plugin problems, not even in strict mode: this is what ``armour plugins`` shows
        to diagnose them.
        """
        self._ensure()
        out = []
        for e in self._sorted_records(kind):
            note = self._conflict_note(e) or self._kind_conflict_note(e.spec.kind)
            out.append((e.spec, f"conflict: {note}" if note else (e.unavailable or "ok")))
        return out

    def _entry(self, kind: str, name: str) -> _Entry:
        self._check_kind(kind)
        self._ready()
        if not isinstance(name, str):
            raise UnknownPluginError(f"name must be a string, got {type(name).__name__}", kind=kind, name=None)
        key = _norm(name)
        if (kind, key) in self._conflicts:
            who = " and ".join(f"{e.spec.dist} (plugin {e.plugin!r})" for e in self._conflicts[(kind, key)])
            raise PluginConflictError(f"{kind} {key!r} is registered by both {who}; uninstall one or block it "
                                      "with ARMOUR_PLUGINS_DISABLE")
        entry = self._entries.get((kind, key))
        if entry is None:
            raise self._unknown(kind, name)
        return entry

    def _unknown(self, kind: str, name: str) -> UnknownPluginError:
        known = [key for (k, key) in self._entries if k == kind]
        close = tuple(difflib.get_close_matches(name, known, n=3, cutoff=0.6))
        msg = f"no {kind} plugin named {name!r}"
        if close:
            msg += f"; did you mean {', '.join(map(repr, close))}?"
        elif known:
            msg += f"; installed {kind} plugins: {', '.join(self.names(kind, include_unavailable=True))}"
        for dist, kinds in FIRST_PARTY.items():
            if kind in kinds and not _dist_installed(dist):
                msg += f". {kind.capitalize()} plugins ship in {dist}, which is not installed: pip install {dist}"
        bad = [s for s in self._status if s.state in ("broken", "unavailable")]
        if bad:
            msg += (". Plugins that failed to load and may provide it: "
                    + ", ".join(f"{s.plugin} ({s.dist} {s.version}: {s.state}, {s.error})" for s in bad))
        off = [s for s in self._status if s.state == "disabled"]
        if off:
            msg += (". Plugins disabled by ARMOUR_PLUGINS_ONLY / ARMOUR_PLUGINS_DISABLE that may provide it: "
                    + ", ".join(f"{s.plugin} ({s.dist})" for s in off))
        return UnknownPluginError(msg, kind=kind, name=name, suggestions=close)

    def spec(self, kind: str, name: str) -> PluginSpec:
        """The record registered for ``kind``/``name`` (aliases accepted), without importing it."""
        return self._entry(kind, name).spec

    def get(self, kind: str, name: str) -> Any:
        """Import and return the implementation (class or factory) of ``kind``/``name``."""
        return self._import(self._entry(kind, name))

    def verify(self, spec: PluginSpec) -> str:
        """Import the implementation of one record from :func:`listing` (``armour plugins --load``): empty
        when it imports, else why not. Other plugins' problems do not count here, not even in strict mode."""
        self._ensure()
        entry = next((e for e in self._records if e.spec is spec), None)
        if entry is None:
            raise UnknownPluginError(f"{spec.kind} {spec.name!r} from {spec.dist} is not a record of this registry",
                                     kind=spec.kind, name=spec.name)
        try:
            self._import(entry)
        except ArmourError as exc:
            return str(exc)
        return ""

    def _import(self, entry: _Entry) -> Any:
        spec, kind = entry.spec, entry.spec.kind
        if entry.unavailable:
            raise PluginUnavailableError(
                f"{kind} {spec.name!r} from {spec.dist} {spec.version} cannot be used here: {entry.unavailable}. "
                f"Install what it needs, e.g. pip install {_pip_hint(entry.unavailable)}")
        cached = self._classes.get((kind, spec.name))
        if cached is not None:
            return cached
        target = spec.target
        if callable(target):
            obj = target
        else:
            try:
                obj = import_target(target)
            except Exception as exc:  # noqa: BLE001
                module = target.partition(":")[0]
                if _is_missing_dependency(exc, module):
                    raise PluginUnavailableError(
                        f"{kind} {spec.name!r} from {spec.dist} {spec.version} needs {exc.name!r}, which is not "
                        f"installed: pip install {exc.name}") from exc
                raise PluginLoadError(f"{kind} {spec.name!r} from {spec.dist} {spec.version}: cannot import "
                                      f"{target!r}: {type(exc).__name__}: {exc}") from exc
        self._classes[(kind, spec.name)] = obj
        return obj

    def create(self, kind: str, name: str, **config: Any) -> Any:
        """Resolve ``kind``/``name`` and instantiate it with keyword-only ``config`` (validated)."""
        return self.get(kind, name)(**config)

    def status(self) -> list[PluginStatus]:
        """One :class:`PluginStatus` per entry point (plus one per conflicting name or kind), in load order.

        Never raises for plugin problems, not even in strict mode (it is how they are diagnosed)."""
        self._ensure()
        out = list(self._status)
        for (kind, key), claimants in sorted(self._conflicts.items()):
            last = claimants[-1]
            who = " and ".join(f"{e.spec.dist} (plugin {e.plugin})" for e in claimants)
            out.append(PluginStatus(plugin=last.plugin, dist=last.spec.dist, version=last.spec.version,
                                    module=str(last.spec.target), state="conflict",
                                    error=f"{kind} {key!r} is registered by {who}"))
        for kind in self._kinds:
            note = self._kind_conflict_note(kind)
            if note:
                rec, plugin = self._kinds[kind][-1]
                out.append(PluginStatus(plugin=plugin, dist=rec.dist, version="", module=rec.hook, state="conflict",
                                        error=note))
        return out

    def availability(self, kind: str, name: str) -> str:
        """Empty when usable; otherwise why not."""
        return self._entry(kind, name).unavailable

    def commands(self) -> list[CommandSpec]:
        """CLI subcommands contributed by plugins (never raises for plugin problems: the CLI frame must
        start, so that ``armour plugins`` can show them)."""
        self._ensure()
        return list(self._commands)

    def audit_sections(self) -> list[AuditSectionSpec]:
        """``armour audit`` sections contributed by usable plugins, in report order."""
        self._ready()
        return sorted(self._sections, key=lambda s: (s.order, s.name))


def _pip_hint(reason: str) -> str:
    from packaging.requirements import Requirement

    parts = []
    for item in reason.removeprefix("missing ").split(", "):
        text = item.split(" (have")[0]
        try:
            parts.append(f"'{Requirement(text)}'")
        except Exception:  # noqa: BLE001
            parts.append(text)
    return " ".join(parts)


_default = Registry()

kinds = _default.kinds
kind_spec = _default.kind_spec
declared_kinds = _default.declared_kinds
names = _default.names
specs = _default.specs
listing = _default.listing
verify = _default.verify
spec = _default.spec
get = _default.get
create = _default.create
status = _default.status
reset = _default.reset
register = _default.register
availability = _default.availability
commands = _default.commands
audit_sections = _default.audit_sections


def default_registry() -> Registry:
    return _default
