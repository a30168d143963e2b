"""Plan the removal of covered products from one host without leaving it unprotected.

The planner reads what matching found on a host (the covered products, with their evidence)
and what protection is there, and orders the work: install or enable the approved replacement,
confirm it protects, remove the covered products (an endpoint product before the agent that
manages it), remove their leftovers, rescan. A host that has no approved protection and no
replacement the policy lets the plan install gets a plan that refuses to remove anything.

Everything here is pure: the inventory, the findings, the catalog, the policy and ``today`` are
passed in; nothing reads a file, a clock or the network.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from evict.catalog.interface import (
    Catalog,
    Directive,
    Product,
    ProductID,
    Recipe,
    RecipeStep,
    Replacement,
)
from evict.compliance.milestones import current_milestone
from evict.matching.engine import Matcher
from evict.matching.interface import Evidence, Finding
from evict.model.observations import HostInventory, Ident, Kind, Observation, Platform
from evict.remediation.commands import EXTENSION_ID, GUID, UnsafeValueError, render
from evict.remediation.interface import (
    SHELL_OF,
    Op,
    Operation,
    Phase,
    Plan,
    PlannedMilestone,
    Shell,
    Step,
)
from evict.remediation.policy import Policy, protection_present, protective

NO_RECIPE_ORDER = 60
"""Where products without a recipe go among the removals (after endpoint products, before the
management agent)."""

_SUSE = {"opensuse", "suse", "sles", "sled", "opensuse-leap", "opensuse-tumbleweed"}

_UNDO = {
    Phase.REPLACE: "uninstall the replacement (it protects the host: keep it)",
    Phase.CONFIRM: "nothing to undo: a check only",
    Phase.REMOVE: "reinstall the product from its vendor's package (the directive forbids it)",
    Phase.LEFTOVER: "nothing to undo: what is removed belonged to the removed product",
    Phase.RESCAN: "nothing to undo: a check only",
}


@dataclass
class _Builder:
    """Collects steps in order, numbering them and rendering their commands."""

    platform: Platform
    steps: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(
        self,
        phase: Phase,
        title: str,
        operation: Operation,
        *,
        product: ProductID | None = None,
        source: str = "",
        manual: bool = False,
    ) -> None:
        """Render ``operation`` for the platform and append it as the next step."""
        if SHELL_OF[self.platform] is Shell.MDM:
            command, check = "", ""
        else:
            try:
                command, check = render(operation, self.platform)
            except UnsafeValueError as e:
                self.warnings.append(f"skipped a step for {product or 'the host'}: {e}")
                return
        self.steps.append(
            Step(
                number=len(self.steps) + 1,
                phase=phase,
                title=title,
                operation=operation,
                command=command,
                check=check,
                undo=_UNDO[phase],
                product=product,
                source=source,
                secrets=tuple(v for _, v in operation.properties),
                manual=manual,
            )
        )


def package_manager(inventory: HostInventory) -> str:
    """``apt``, ``dnf`` or ``zypper``, as the host's package inventory shows; empty if unknown."""
    for o in inventory.observations:
        if o.kind is not Kind.PACKAGE:
            continue
        purl = o.ident(Ident.PURL) or ""
        if purl.startswith("pkg:deb/") or o.source.endswith(("dpkg", "deb_packages")):
            return "apt"
        if purl.startswith("pkg:rpm/") or o.source.endswith(("rpm", "rpm_packages")):
            namespace = purl[len("pkg:rpm/") :].split("/", 1)[0].lower() if purl else ""
            return "zypper" if namespace in _SUSE else "dnf"
    return ""


def _evidence(
    findings: Sequence[Finding], present: Mapping[ProductID, Sequence[Evidence]]
) -> dict[ProductID, list[Observation]]:
    """The observations behind each covered product, in first-seen order."""
    out: dict[ProductID, list[Observation]] = {}
    for f in findings:
        items = out.setdefault(f.product, [])
        for e in (*f.evidence, *present.get(f.product, ())):
            if e.observation not in items:
                items.append(e.observation)
    return out


def _vendor_words(catalog: Catalog, product: Product) -> tuple[str, ...]:
    """Lower-case words that name a product's vendor, for judging whether a path is its own."""
    vendor = catalog.vendor(product.vendor)
    words = {vendor.id, vendor.name.split()[0]}
    words.update(a.split()[0] for a in vendor.aliases if a.isascii())
    return tuple(sorted(w.lower() for w in words if len(w) >= 4))


def _own_path(path: str, words: Iterable[str]) -> bool:
    """Whether ``path`` is safe to delete as a product's leftover: absolute, at least two
    levels deep, and naming the product's vendor in its last levels."""
    norm = path.replace("\\", "/").rstrip("/")
    parts = [p for p in norm.split("/") if p]
    absolute = norm.startswith("/") or re.match(r"^[A-Za-z]:/", norm) is not None
    if not absolute or len(parts) < 2 or ".." in parts:
        return False
    tail = "/".join(parts[-2:]).lower()
    return any(w in tail for w in words)


def _install_dir(o: Observation) -> str | None:
    """The install folder a program or app observation points at, if any."""
    path = o.ident(Ident.PATH)
    if not path:
        return None
    if o.kind is Kind.PROGRAM:
        return path.rstrip("\\/")
    if o.kind is Kind.APP and path.endswith(".app"):
        return path
    return None


def _replacement_for(
    platform: Platform,
    catalog: Catalog,
    policy: Policy,
    present: Sequence[ProductID],
    manager: str,
) -> tuple[Replacement | None, bool]:
    """The replacement a plan relies on, and whether the plan must install it.

    A present approved product is relied on; otherwise the first the policy names for
    installation (then any built-in one) with install steps that fit the host.
    """
    approved = policy.approved_ids(catalog)
    for pid in present:
        r = catalog.replacement(pid, platform.value)
        if r is not None:
            return r, False
    if present:
        return None, False
    built_in = [
        r.product
        for r in catalog.replacements
        if r.built_in and r.platform == platform.value and r.product in approved
    ]
    for pid in (*policy.install, *built_in):
        r = catalog.replacement(pid, platform.value)
        if r is not None and pid in approved and _install_steps(r, manager):
            return r, True
    return None, False


def _install_steps(replacement: Replacement, manager: str) -> list[RecipeStep]:
    return [s for s in replacement.install if not s.managers or (manager or "apt") in s.managers]


def _confirm(b: _Builder, r: Replacement, name: str, *, after_removal: bool) -> None:
    """Add the step that confirms the replacement protects.

    One that takes over (Defender on Windows) is off while the covered antivirus is installed:
    before the removal the plan confirms it is installed, right after it that it protects
    (switching it on if it did not switch itself on).
    """
    source = r.sources[0].title if r.sources else ""
    if r.takes_over and not after_removal:
        check = next((s.check for s in r.install if s.check), "")
        b.add(
            Phase.CONFIRM,
            f"confirm {name} is installed (it takes over once the other antivirus is gone)",
            Operation(Op.PROTECTION_RUNNING, packages=r.packages, names=r.services, check=check),
            product=r.product,
            source=source,
        )
        return
    title = f"confirm {name} protects this host"
    if after_removal:
        title += " now that the covered antivirus is gone"
    b.add(
        Phase.CONFIRM,
        title,
        Operation(
            Op.PROTECTION_RUNNING,
            packages=r.packages,
            names=r.services,
            run=r.enable if after_removal else "",
            check=r.running,
        ),
        product=r.product,
        source=source,
    )


def _removal_steps(
    b: _Builder,
    product: Product,
    recipe: Recipe | None,
    observations: Sequence[Observation],
    *,
    manager: str,
    has_packages: bool,
) -> None:
    """Add the steps that remove one covered product, from its recipe or its evidence."""
    observed_packages = [o.name for o in observations if o.kind is Kind.PACKAGE]
    codes = [
        c for o in observations if o.kind is Kind.PROGRAM and (c := o.ident(Ident.PRODUCT_CODE))
    ]
    codes = list(dict.fromkeys(c.upper() for c in codes if GUID.fullmatch(c)))
    programs = list(dict.fromkeys(o.name for o in observations if o.kind is Kind.PROGRAM))
    apps = list(
        dict.fromkeys(
            v
            for o in observations
            if o.kind in (Kind.APP, Kind.PACKAGE)
            for v in (o.ident(Ident.PACKAGE_ID), o.ident(Ident.BUNDLE_ID))
            if v
        )
    )
    if recipe is None:
        _fallback(b, product, observed_packages, codes, programs, apps, observations, manager)
        return
    for step in recipe.remove:
        if step.managers and (manager or "apt") not in step.managers:
            continue
        title = step.title or f"remove {product.name}"
        if step.action == "package-remove":
            packages = [p for p in step.packages if p in observed_packages]
            packages += [p for p in observed_packages if p not in packages]
            if not has_packages:
                packages = list(step.packages)
            if not packages:
                continue
            b.add(
                Phase.REMOVE,
                title,
                Operation(Op.PACKAGE_REMOVE, packages=tuple(packages), manager=manager),
                product=product.id,
                source=step.source,
            )
        elif step.action == "msi-uninstall":
            if not codes:
                b.warnings.append(
                    f"{product.name}: the inventory gives no MSI product code; remove it by "
                    "hand (the plan checks it is gone)"
                )
                _program_absent(b, product, programs, observations)
                continue
            for code in codes:
                b.add(
                    Phase.REMOVE,
                    f"{title}: {code}",
                    Operation(Op.MSI_UNINSTALL, names=(code,), properties=step.properties),
                    product=product.id,
                    source=step.source,
                )
        elif step.action == "command":
            b.add(
                Phase.REMOVE,
                title,
                Operation(Op.COMMAND, run=step.run, check=step.check),
                product=product.id,
                source=step.source,
            )
        elif step.action == "mdm-remove":
            for app in apps or [step.app]:
                b.add(
                    Phase.REMOVE,
                    f"{title}: {app}",
                    Operation(Op.MDM_REMOVE, names=(app,)),
                    product=product.id,
                    source=step.source,
                    manual=True,
                )
        elif step.action == "package-install":
            b.warnings.append(f"{product.name}: recipe step {step.action} ignored in a removal")
    b.warnings.extend(f"{product.name}: {w}" for w in recipe.warnings)


def _program_absent(
    b: _Builder, product: Product, programs: Sequence[str], observations: Sequence[Observation]
) -> None:
    """A manual removal: the plan stops until the program is no longer registered."""
    paths = tuple(p for o in observations if o.kind is Kind.APP and (p := o.ident(Ident.PATH)))
    if b.platform is Platform.MACOS and paths:
        b.add(
            Phase.REMOVE,
            f"remove {product.name} with its own uninstaller (by hand), then run the plan again",
            Operation(Op.PROGRAM_ABSENT, names=tuple(programs), paths=paths),
            product=product.id,
            manual=True,
        )
    elif b.platform is Platform.WINDOWS and programs:
        b.add(
            Phase.REMOVE,
            f"remove {product.name} (Settings > Apps, or the vendor's removal tool), then run "
            "the plan again",
            Operation(Op.PROGRAM_ABSENT, names=tuple(programs)),
            product=product.id,
            manual=True,
        )


def _fallback(
    b: _Builder,
    product: Product,
    packages: Sequence[str],
    codes: Sequence[str],
    programs: Sequence[str],
    apps: Sequence[str],
    observations: Sequence[Observation],
    manager: str,
) -> None:
    """Remove a product the catalog has no recipe for, by what the inventory shows of it."""
    platform = b.platform
    if platform is Platform.WINDOWS and codes:
        b.warnings.append(
            f"{product.name}: no vendor recipe; uninstalled by the MSI product code the host "
            "reports"
        )
        for code in codes:
            b.add(
                Phase.REMOVE,
                f"uninstall {product.name}: {code}",
                Operation(Op.MSI_UNINSTALL, names=(code,)),
                product=product.id,
                source="the host's inventory (MSI product code)",
            )
    elif platform is Platform.LINUX and packages:
        b.add(
            Phase.REMOVE,
            f"remove {product.name}",
            Operation(Op.PACKAGE_REMOVE, packages=tuple(dict.fromkeys(packages)), manager=manager),
            product=product.id,
            source="the host's inventory (package names)",
        )
    elif platform in (Platform.ANDROID, Platform.IOS) and apps:
        for app in apps:
            b.add(
                Phase.REMOVE,
                f"remove {product.name} through the MDM: {app}",
                Operation(Op.MDM_REMOVE, names=(app,)),
                product=product.id,
                source="the host's inventory (app id)",
                manual=True,
            )
    elif programs or any(o.kind is Kind.APP for o in observations):
        b.warnings.append(f"{product.name}: no removal recipe for {platform.value}")
        _program_absent(b, product, programs, observations)


_LEFTOVER_ORDER = {
    Op.SERVICE_REMOVE: 0,
    Op.DRIVER_REMOVE: 1,
    Op.KERNEL_MODULE_REMOVE: 2,
    Op.SCHEDULED_TASK_REMOVE: 3,
    Op.CERTIFICATE_REMOVE: 4,
    Op.EXTENSION_REMOVE: 5,
    Op.REGISTRY_KEY_REMOVE: 6,
    Op.PATH_REMOVE: 7,
}

_LEFTOVER_TITLES = {
    Op.SERVICE_REMOVE: "service {}",
    Op.DRIVER_REMOVE: "driver {}",
    Op.KERNEL_MODULE_REMOVE: "kernel module {}",
    Op.SCHEDULED_TASK_REMOVE: "scheduled task {}",
    Op.CERTIFICATE_REMOVE: "root certificate {!r} in the system trust stores",
    Op.EXTENSION_REMOVE: "browser extension {}",
    Op.REGISTRY_KEY_REMOVE: "registry key {}",
    Op.PATH_REMOVE: "folder {}",
}


def _leftovers(
    catalog: Catalog,
    platform: Platform,
    removed: Sequence[tuple[Product, Recipe | None]],
    evidence: Mapping[ProductID, Sequence[Observation]],
) -> list[tuple[Operation, ProductID, str]]:
    """What the removed products leave behind: from their recipes and the host's inventory."""
    found: dict[tuple[Op, str], tuple[Operation, ProductID, str]] = {}

    def add(operation: Operation, key: str, product: ProductID, source: str) -> None:
        family = operation.op
        if windows and family is Op.DRIVER_REMOVE:
            family = Op.SERVICE_REMOVE  # a Windows driver is a service of type kernel driver
        found.setdefault((family, key.lower()), (operation, product, source))

    windows, macos = platform is Platform.WINDOWS, platform is Platform.MACOS
    for product, recipe in removed:
        words = _vendor_words(catalog, product)
        for x in recipe.leftovers if recipe else ():
            if x.kind == "service":
                add(Operation(Op.SERVICE_REMOVE, names=(x.name,)), x.name, product.id, x.source)
            elif x.kind == "driver":
                add(Operation(Op.DRIVER_REMOVE, names=(x.name,)), x.name, product.id, x.source)
            elif x.kind == "kernel_module" and platform is Platform.LINUX:
                add(
                    Operation(Op.KERNEL_MODULE_REMOVE, names=(x.name,)),
                    x.name,
                    product.id,
                    x.source,
                )
            elif x.kind == "certificate":
                add(Operation(Op.CERTIFICATE_REMOVE, names=(x.name,)), x.name, product.id, x.source)
            elif x.kind == "browser_extension" and EXTENSION_ID.fullmatch(x.name):
                add(Operation(Op.EXTENSION_REMOVE, names=(x.name,)), x.name, product.id, x.source)
            elif x.kind == "scheduled_task" and windows:
                add(
                    Operation(Op.SCHEDULED_TASK_REMOVE, names=(x.name,)),
                    x.name,
                    product.id,
                    x.source,
                )
            elif x.kind == "path":
                add(Operation(Op.PATH_REMOVE, paths=(x.name,)), x.name, product.id, x.source)
        for o in evidence.get(product.id, ()):
            src = f"the host's inventory ({o.source})"
            path = o.ident(Ident.PATH) or ""
            if o.kind is Kind.SERVICE:
                name = (o.ident(Ident.BUNDLE_ID) or o.name) if macos else o.name
                add(Operation(Op.SERVICE_REMOVE, names=(name,)), name, product.id, src)
            elif o.kind is Kind.DRIVER and windows:
                add(
                    Operation(Op.DRIVER_REMOVE, names=(o.name,)),
                    o.name.removesuffix(".sys"),
                    product.id,
                    src,
                )
            elif o.kind is Kind.DRIVER and macos:
                bundle = o.ident(Ident.BUNDLE_ID) or o.name
                paths = (path,) if path and _own_path(path, words) else ()
                add(
                    Operation(Op.DRIVER_REMOVE, names=(bundle,), paths=paths),
                    bundle,
                    product.id,
                    src,
                )
            elif o.kind is Kind.KERNEL_MODULE and platform is Platform.LINUX:
                add(Operation(Op.KERNEL_MODULE_REMOVE, names=(o.name,)), o.name, product.id, src)
            elif o.kind is Kind.CERTIFICATE:
                add(Operation(Op.CERTIFICATE_REMOVE, names=(o.name,)), o.name, product.id, src)
            elif o.kind is Kind.BROWSER_EXTENSION:
                ident = o.ident(Ident.EXTENSION_ID)
                if ident and EXTENSION_ID.fullmatch(ident):
                    add(Operation(Op.EXTENSION_REMOVE, names=(ident,)), ident, product.id, src)
            elif o.kind is Kind.REGISTRY_KEY and windows:
                key = o.ident(Ident.REGISTRY_KEY) or o.name
                if key.upper().startswith(("HKEY_", "HKLM", "HKCU")):
                    add(Operation(Op.REGISTRY_KEY_REMOVE, paths=(key,)), key, product.id, src)
            elif (folder := _install_dir(o)) and _own_path(folder, words):
                add(Operation(Op.PATH_REMOVE, paths=(folder,)), folder, product.id, src)
            elif o.kind is Kind.FILE and path and _own_path(path, words):
                add(Operation(Op.PATH_REMOVE, paths=(path,)), path, product.id, src)
    items = list(found.values())
    # Deepest folders first, so a parent removal never hides a child's check.
    items.sort(
        key=lambda i: (
            _LEFTOVER_ORDER.get(i[0].op, 9),
            -len(i[0].paths[0]) if i[0].paths and i[0].op is Op.PATH_REMOVE else 0,
        )
    )
    return items


def plan_host(
    inventory: HostInventory,
    findings: Sequence[Finding],
    present: Mapping[ProductID, Sequence[Evidence]],
    catalog: Catalog,
    *,
    policy: Policy,
    today: dt.date,
) -> Plan:
    """The removal and replacement plan of one host.

    :param inventory: the host's inventory (its platform, packages and evidence).
    :param findings: what matching found on it, for the directives being enforced.
    :param present: every product recognised on it (see :meth:`Matcher.present_products`).
    :param policy: the approved protection products and those the plan may install.
    :param today: the date the directives' milestones are given for.
    """
    platform = inventory.platform
    shell = SHELL_OF[platform]
    b = _Builder(platform)
    evidence = _evidence(findings, present)
    products = {p.id: p for p in catalog.products}
    covered = [pid for pid in evidence if pid in products]
    protection = protection_present(present, catalog, policy)
    at_risk = protective(covered, catalog)
    gap = bool(at_risk) and not protection
    manager = package_manager(inventory) if platform is Platform.LINUX else ""
    has_packages = any(o.kind is Kind.PACKAGE for o in inventory.observations)
    directives = tuple(sorted({f.directive for f in findings}))
    milestones = tuple(
        PlannedMilestone(d.id, current_milestone(d, today=today))
        for d in catalog.directives
        if d.id in directives
    )
    refusal = ""
    replacement: Replacement | None = None
    install = False
    if platform is Platform.LINUX and not manager and has_packages:
        b.warnings.append("the package manager is not known from the inventory: detected at run")
    if at_risk:
        replacement, install = _replacement_for(platform, catalog, policy, protection, manager)
        name = products[replacement.product].name if replacement else ""
        if replacement is None and protection:
            b.warnings.append(
                f"{', '.join(protection)} protects this host, but the catalog has no way to "
                f"confirm it runs on {platform.value}: confirm it by hand before the removal"
            )
        elif replacement is None:
            approved = ", ".join(sorted(policy.approved_ids(catalog))) or "none"
            refusal = (
                f"coverage gap: {inventory.hostname or inventory.host} has no approved protection "
                f"(approved: {approved}) and the policy names none a plan can install on "
                f"{platform.value}; removing {', '.join(products[p].name for p in at_risk)} "
                "would leave it unprotected. Install and start an approved product, then plan "
                "again (or name one with --install)."
            )
        else:
            if install:
                b.warnings.append(
                    f"coverage gap: no approved protection is present; the plan installs {name} "
                    "first and removes nothing until it protects"
                )
                for step in _install_steps(replacement, manager):
                    if step.action == "package-install":
                        operation = Operation(
                            Op.PACKAGE_INSTALL, packages=step.packages, manager=manager
                        )
                    elif step.action == "command":
                        operation = Operation(Op.COMMAND, run=step.run, check=step.check)
                    else:
                        continue
                    b.add(
                        Phase.REPLACE,
                        step.title or f"install {name}",
                        operation,
                        product=replacement.product,
                        source=step.source,
                    )
            if replacement.takes_over:
                b.warnings.append(
                    f"{name} is switched off by Windows while another antivirus is registered and "
                    "switches back on when it is removed: the plan checks it is installed before "
                    "the removal and that it protects right after"
                )
            _confirm(b, replacement, name, after_removal=False)
    withheld: set[ProductID] = set()
    if refusal:
        # Everything of the at-risk products' vendors waits for the replacement (the endpoint
        # product and the agent that manages it); other covered software is removed as usual.
        vendors = {products[p].vendor for p in at_risk}
        withheld = {p for p in covered if products[p].vendor in vendors}
        if withheld != set(covered):
            names = ", ".join(sorted(products[p].name for p in withheld))
            b.warnings.append(f"withheld until a replacement protects the host: {names}")
        if withheld == set(covered):
            return Plan(
                host=inventory.host,
                hostname=inventory.hostname,
                platform=platform,
                shell=shell,
                catalog_version=catalog.version,
                directives=directives,
                products=tuple(covered),
                protection=protection,
                replacement=None,
                coverage_gap=True,
                steps=tuple(b.steps),
                warnings=tuple(b.warnings),
                refusal=refusal,
                milestones=milestones,
            )

    def order(pid: ProductID) -> tuple[int, int, str]:
        product = products[pid]
        recipe = catalog.recipe(pid, platform.value)
        rank = recipe.order if recipe else NO_RECIPE_ORDER
        return (1 if product.generic else 0, rank, pid)

    removed: list[tuple[Product, Recipe | None]] = []
    for pid in sorted((p for p in covered if p not in withheld), key=order):
        product = products[pid]
        recipe = catalog.recipe(pid, platform.value)
        removed.append((product, recipe))
        if product.generic:
            continue  # a catch-all product: its evidence is removed as leftovers
        _removal_steps(
            b, product, recipe, evidence[pid], manager=manager, has_packages=has_packages
        )
    if replacement is not None and replacement.takes_over:
        _confirm(b, replacement, products[replacement.product].name, after_removal=True)
    if shell is not Shell.MDM:
        for operation, pid, source in _leftovers(catalog, platform, removed, evidence):
            title = _LEFTOVER_TITLES[operation.op].format((operation.names or operation.paths)[0])
            b.add(
                Phase.LEFTOVER,
                f"remove {title} if still there",
                operation,
                product=pid,
                source=source,
            )
    if covered and not withheld:
        if shell is Shell.MDM:
            b.warnings.append(
                "the MDM removes apps when the device next checks in: collect a fresh "
                "inventory and scan it to verify"
            )
        else:
            b.add(
                Phase.RESCAN,
                "rescan: nothing covered is left (needs evict on the host)",
                Operation(Op.RESCAN, names=directives),
            )
    return Plan(
        host=inventory.host,
        hostname=inventory.hostname,
        platform=platform,
        shell=shell,
        catalog_version=catalog.version,
        directives=directives,
        products=tuple(pid for pid in sorted(covered, key=order)),
        protection=protection,
        replacement=replacement.product if replacement else None,
        coverage_gap=gap,
        steps=tuple(b.steps),
        warnings=tuple(dict.fromkeys(b.warnings)),
        refusal=refusal,
        milestones=milestones,
    )


def plan_inventory(
    inventory: HostInventory,
    matcher: Matcher,
    *,
    policy: Policy,
    today: dt.date,
    directives: Sequence[Directive] | None = None,
) -> Plan:
    """Match one host's inventory and plan its removal (see :func:`plan_host`)."""
    findings = [
        f
        for f in matcher.match_hosts([inventory], directives=directives).get(inventory.host, [])
        if not f.needs_determination  # nothing is removed before its coverage is determined
    ]
    present = matcher.present_products(inventory.observations)
    return plan_host(inventory, findings, present, matcher.catalog, policy=policy, today=today)
