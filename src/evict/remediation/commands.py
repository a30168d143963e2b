"""Each :class:`~evict.remediation.interface.Operation` as a command and a check, per shell.

POSIX sh for Linux and macOS (commands succeed or fail by exit status; checks succeed once the
step is done) and PowerShell for Windows (commands are statements; checks are expressions that
are true once the step is done). Every value that comes from a host's inventory is quoted here
(names, paths, product codes): an inventory is untrusted input and must never become code.
Pure functions of the operation and the platform.
"""

from __future__ import annotations

import base64
import re
import shlex

from evict._util import assert_never
from evict.model.observations import Platform
from evict.neutral import is_clean
from evict.remediation.interface import Op, Operation, RemediationError

GUID = re.compile(
    r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$"
)
"""An MSI product code, the only shape ``msiexec /x`` is given."""

EXTENSION_ID = re.compile(r"^[A-Za-z0-9@._{}\-]{1,128}$")
"""A Chromium extension id (32 letters) or a Firefox add-on id (an e-mail-like name)."""

PACKAGE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+~^:-]{0,254}$")
"""A Debian or RPM package name (an architecture suffix allowed): never an option."""

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
"""An MSI property or environment variable name (a recipe's, written into commands as is)."""

PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
"""The characters PowerShell reads as a single quote (the language specification's
*single-quote-character*): any of them ends a verbatim string, two of them stand for one."""

_INSTALLED = (
    "dpkg -s {p} 2>/dev/null | grep -q '^Status: install ok installed' "
    "|| rpm -q --quiet {p} 2>/dev/null"
)

_CHROMIUM_POSIX = (
    "/home/*/.config/google-chrome/*/Extensions/{id}",
    "/home/*/.config/chromium/*/Extensions/{id}",
    "/home/*/.config/microsoft-edge/*/Extensions/{id}",
    "/home/*/.mozilla/firefox/*/extensions/{id}.xpi",
    "/root/.config/google-chrome/*/Extensions/{id}",
)
_CHROMIUM_MAC = (
    "/Users/*/Library/Application Support/Google/Chrome/*/Extensions/{id}",
    "/Users/*/Library/Application Support/Microsoft Edge/*/Extensions/{id}",
    "/Users/*/Library/Application Support/Firefox/Profiles/*/extensions/{id}.xpi",
)
_CHROMIUM_WINDOWS = (
    r"C:\Users\*\AppData\Local\Google\Chrome\User Data\*\Extensions\{id}",
    r"C:\Users\*\AppData\Local\Microsoft\Edge\User Data\*\Extensions\{id}",
    r"C:\Users\*\AppData\Roaming\Mozilla\Firefox\Profiles\*\extensions\{id}.xpi",
)


class UnsafeValueError(RemediationError):
    """An inventory value that cannot safely become part of a command (a malformed GUID)."""


def q(value: str) -> str:
    """Quote ``value`` as one sh word (single quotes: nothing in it expands).

    Raises :class:`UnsafeValueError` for a NUL (no sh word holds one) and for the characters
    :func:`evict.neutral.neutralise` replaces (a control, bidi or separator character, a lone
    surrogate): written raw, they would act on the terminal of whoever reads the script.
    """
    if "\x00" in value or not is_clean(value):
        raise UnsafeValueError(
            f"{value[:200]!r} holds a NUL, control, bidi or separator character, which a "
            "script cannot show as it is"
        )
    return shlex.quote(value)


def ps(value: str) -> str:
    """``value`` as a PowerShell string expression in which nothing expands.

    Printable text without typographic quotes is a single-quoted string, every single-quote
    form doubled (:data:`PS_SINGLE_QUOTES`). Anything else (a typographic quote, a control,
    bidi or separator character) is passed as data: its UTF-16 bytes in base64, decoded when the
    script runs, so the script holds only ASCII quotes, which every PowerShell reader agrees on.
    """
    if value.isprintable() and not any(c in value for c in PS_SINGLE_QUOTES[1:]):
        return "'" + "".join(c + c if c in PS_SINGLE_QUOTES else c for c in value) + "'"
    data = base64.b64encode(value.encode("utf-16-le", "surrogatepass")).decode("ascii")
    return f"([Text.Encoding]::Unicode.GetString([Convert]::FromBase64String('{data}')))"


def ps_like(value: str) -> str:
    """Quote ``value`` for PowerShell's ``-like``, its wildcard characters escaped."""
    escaped = re.sub(r"([\[\]\*\?`])", r"`\1", value)
    return ps(escaped)


def _glob_path(pattern: str, ident: str) -> str:
    """A path glob with a validated extension id in it, its literal parts quoted for sh."""
    path = pattern.format(id=ident)
    # Quote everything but the '*' wildcards, so spaces in "Application Support" stay literal.
    return "*".join(q(part) if part else "" for part in path.split("*"))


def render(operation: Operation, platform: Platform) -> tuple[str, str]:
    """The command and the check of ``operation`` for ``platform``'s shell.

    Raises :class:`UnsafeValueError` for a value that cannot become part of a command.
    """
    if platform is Platform.WINDOWS:
        return powershell(operation)
    return sh(operation, macos=platform is Platform.MACOS)


# --- POSIX sh -----------------------------------------------------------------------------------


def _installed(package: str) -> str:
    return _INSTALLED.format(p=q(package))


def _packages(packages: tuple[str, ...]) -> None:
    """Raise :class:`UnsafeValueError` for a package name that is not one (an option, say)."""
    for p in packages:
        if not PACKAGE.fullmatch(p):
            raise UnsafeValueError(f"package name {p[:200]!r} has unexpected characters")


def _package_command(verb: str, packages: tuple[str, ...], manager: str) -> str:
    names = " ".join(q(p) for p in packages)
    apt_verb = "purge" if verb == "remove" else "install"
    apt = f"DEBIAN_FRONTEND=noninteractive apt-get {apt_verb} -y {names}"
    dnf = f"dnf {verb} -y {names}"
    zypper = f"zypper --non-interactive {verb} {names}"
    if manager == "apt":
        return apt
    if manager == "dnf":
        return dnf
    if manager == "zypper":
        return zypper
    return (
        f"if command -v apt-get >/dev/null 2>&1; then {apt}; "
        f"elif command -v dnf >/dev/null 2>&1; then {dnf}; "
        f"elif command -v zypper >/dev/null 2>&1; then {zypper}; "
        "else echo 'evict: no apt-get, dnf or zypper here' >&2; false; fi"
    )


def sh(operation: Operation, *, macos: bool = False) -> tuple[str, str]:
    """The sh command and check of ``operation`` (``macos`` for launchd, kexts and keychains)."""
    o = operation
    match o.op:
        case Op.PACKAGE_REMOVE:
            _packages(o.packages)
            check = " && ".join(f"! {{ {_installed(p)}; }}" for p in o.packages)
            return _package_command("remove", o.packages, o.manager), check
        case Op.PACKAGE_INSTALL:
            _packages(o.packages)
            check = " && ".join(f"{{ {_installed(p)}; }}" for p in o.packages)
            return _package_command("install", o.packages, o.manager), check
        case Op.COMMAND:
            return o.run, o.check
        case Op.PROTECTION_RUNNING:
            if o.check:
                return o.run, o.check
            if macos:
                alive = " || ".join(
                    f"launchctl print system/{q(n)} >/dev/null 2>&1" for n in o.names
                )
            else:
                alive = " || ".join(f"systemctl is-active --quiet -- {q(n)}" for n in o.names)
            return o.run, alive
        case Op.SERVICE_REMOVE:
            (name,) = o.names
            if macos:
                return (
                    f"launchctl bootout system/{q(name)} 2>/dev/null || true; "
                    f"rm -f /Library/LaunchDaemons/{q(name + '.plist')} "
                    f"/Library/LaunchAgents/{q(name + '.plist')}",
                    f"! launchctl print system/{q(name)} >/dev/null 2>&1",
                )
            return (
                f"systemctl disable --now -- {q(name)} 2>/dev/null || true",
                f"! systemctl is-active --quiet -- {q(name)} && "
                f"! systemctl is-enabled --quiet -- {q(name)} 2>/dev/null",
            )
        case Op.DRIVER_REMOVE:
            (name,) = o.names
            removal = " ".join(q(p) for p in o.paths)
            command = f"kextunload -b {q(name)} 2>/dev/null || true"
            if removal:
                command += f"; rm -rf -- {removal}"
            return command, f"! kextstat -l -b {q(name)} 2>/dev/null | grep -q ."
        case Op.KERNEL_MODULE_REMOVE:
            (name,) = o.names
            return (
                f"modprobe -r -- {q(name)} 2>/dev/null || rmmod -- {q(name)} 2>/dev/null || true",
                f"! grep -q {q('^' + name + ' ')} /proc/modules",
            )
        case Op.CERTIFICATE_REMOVE:
            (name,) = o.names
            if macos:
                keychain = "/Library/Keychains/System.keychain"
                return (
                    f"while security find-certificate -c {q(name)} {keychain} >/dev/null 2>&1; "
                    f"do security delete-certificate -c {q(name)} {keychain} || break; done",
                    f"! security find-certificate -c {q(name)} {keychain} >/dev/null 2>&1",
                )
            anchors = "/usr/local/share/ca-certificates/*.crt /etc/pki/ca-trust/source/anchors/*"
            match = (
                f'[ -f "$f" ] && openssl x509 -noout -subject -in "$f" 2>/dev/null '
                f"| grep -qF -e {q(name)}"
            )
            return (
                f'for f in {anchors}; do if {match}; then rm -f -- "$f"; fi; done; '
                "if command -v update-ca-certificates >/dev/null 2>&1; then "
                "update-ca-certificates --fresh >/dev/null; fi; "
                "if command -v update-ca-trust >/dev/null 2>&1; then update-ca-trust extract; fi",
                f"! ( for f in {anchors}; do if {match}; then exit 0; fi; done; exit 1 )",
            )
        case Op.EXTENSION_REMOVE:
            (ident,) = o.names
            if not EXTENSION_ID.fullmatch(ident):
                raise UnsafeValueError(f"extension id {ident!r} has unexpected characters")
            patterns = _CHROMIUM_MAC if macos else _CHROMIUM_POSIX
            globs = " ".join(_glob_path(p, ident) for p in patterns)
            return (
                f'for d in {globs}; do if [ -e "$d" ]; then rm -rf -- "$d"; fi; done',
                f'! ( for d in {globs}; do if [ -e "$d" ]; then exit 0; fi; done; exit 1 )',
            )
        case Op.PATH_REMOVE:
            paths = " ".join(q(p) for p in o.paths)
            return (
                f"rm -rf -- {paths}",
                " && ".join(f"test ! -e {q(p)}" for p in o.paths),
            )
        case Op.PROGRAM_ABSENT:
            if o.paths:
                return "", " && ".join(f"test ! -e {q(p)}" for p in o.paths)
            return "", "false"
        case Op.RESCAN:
            words = ["evict", "scan", "--format", "json"]
            for d in o.names:
                words += ["--directive", q(d)]
            return "", " ".join(words) + " >/dev/null"
        case Op.MDM_REMOVE | Op.MSI_UNINSTALL | Op.SCHEDULED_TASK_REMOVE | Op.REGISTRY_KEY_REMOVE:
            raise RemediationError(f"{o.op.value} has no sh form")
        case _:
            assert_never(o.op)


# --- PowerShell ---------------------------------------------------------------------------------


def _uninstall_keys(code: str) -> str:
    """True once no Uninstall key (64- or 32-bit view) names the MSI product ``code``."""
    keys = (
        "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\" + code,
        "HKLM:\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\" + code,
    )
    return " -and ".join(f"-not (Test-Path -LiteralPath {ps(k)})" for k in keys)


def powershell(operation: Operation) -> tuple[str, str]:
    """The PowerShell statements and check expression of ``operation``."""
    o = operation
    match o.op:
        case Op.MSI_UNINSTALL:
            (code,) = o.names
            if not GUID.fullmatch(code):
                raise UnsafeValueError(f"product code {code!r} is not a GUID")
            lines = [f"$msiArgs = @('/x', {ps(code)}, '/qn', '/norestart')"]
            for prop, variable in o.properties:
                if not (IDENTIFIER.fullmatch(prop) and IDENTIFIER.fullmatch(variable)):
                    raise UnsafeValueError(
                        f"MSI property {prop!r} or variable {variable!r} is not an identifier"
                    )
                lines.append(
                    f"if ($env:{variable}) {{ $msiArgs += ('{prop}=' + $env:{variable}) }}"
                )
            lines.append(
                "$msi = Start-Process -FilePath 'msiexec.exe' -ArgumentList $msiArgs "
                "-Wait -PassThru"
            )
            lines.append(
                "if ($msi.ExitCode -notin 0, 1605, 1641, 3010) "
                "{ throw ('msiexec exited with ' + $msi.ExitCode) }"
            )
            return "\n".join(lines), _uninstall_keys(code)
        case Op.COMMAND:
            return o.run, o.check
        case Op.PROTECTION_RUNNING:
            if o.check:
                return o.run, o.check
            alive = " -or ".join(
                f"((Get-Service -Name {ps(n)} -ErrorAction SilentlyContinue).Status -eq 'Running')"
                for n in o.names
            )
            return o.run, alive
        case Op.SERVICE_REMOVE | Op.DRIVER_REMOVE:
            (name,) = o.names
            service = name[:-4] if name.lower().endswith(".sys") else name
            command = (
                f"if (Get-Service -Name {ps(service)} -ErrorAction SilentlyContinue) "
                f"{{ Stop-Service -Name {ps(service)} -Force -ErrorAction SilentlyContinue; "
                f"& sc.exe delete {ps(service)} | Out-Null }}"
            )
            return (
                command,
                f"$null -eq (Get-Service -Name {ps(service)} -ErrorAction SilentlyContinue)",
            )
        case Op.CERTIFICATE_REMOVE:
            (name,) = o.names
            stores = (
                r"'Cert:\LocalMachine\Root', 'Cert:\LocalMachine\AuthRoot', 'Cert:\LocalMachine\CA'"
            )
            found = (
                f"Get-ChildItem -Path {stores} -ErrorAction SilentlyContinue | "
                f"Where-Object {{ $_.Subject -like ('*' + {ps_like(name)} + '*') }}"
            )
            return f"{found} | Remove-Item -Force", f"$null -eq ({found})"
        case Op.EXTENSION_REMOVE:
            (ident,) = o.names
            if not EXTENSION_ID.fullmatch(ident):
                raise UnsafeValueError(f"extension id {ident!r} has unexpected characters")
            globs = ", ".join(ps(p.format(id=ident)) for p in _CHROMIUM_WINDOWS)
            found = f"Get-Item -Path {globs} -ErrorAction SilentlyContinue"
            return f"{found} | Remove-Item -Recurse -Force", f"$null -eq ({found})"
        case Op.SCHEDULED_TASK_REMOVE:
            (name,) = o.names
            return (
                f"Unregister-ScheduledTask -TaskName {ps(name)} -Confirm:$false "
                "-ErrorAction SilentlyContinue",
                f"$null -eq (Get-ScheduledTask -TaskName {ps(name)} -ErrorAction SilentlyContinue)",
            )
        case Op.REGISTRY_KEY_REMOVE:
            keys = [ps("Registry::" + k) for k in o.paths]
            return (
                "; ".join(
                    f"Remove-Item -LiteralPath {k} -Recurse -Force -ErrorAction SilentlyContinue"
                    for k in keys
                ),
                " -and ".join(f"-not (Test-Path -LiteralPath {k})" for k in keys),
            )
        case Op.PATH_REMOVE:
            paths = [ps(p) for p in o.paths]
            return (
                "; ".join(
                    f"Remove-Item -LiteralPath {p} -Recurse -Force -ErrorAction SilentlyContinue"
                    for p in paths
                ),
                " -and ".join(f"-not (Test-Path -LiteralPath {p})" for p in paths),
            )
        case Op.PROGRAM_ABSENT:
            uninstall = (
                r"'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*', "
                r"'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*'"
            )
            names = ", ".join(ps(n) for n in o.names)
            return "", (
                f"$null -eq (Get-ItemProperty -Path {uninstall} -ErrorAction SilentlyContinue | "
                f"Where-Object {{ $_.PSObject.Properties['DisplayName'] -and "
                f"$_.DisplayName -in @({names}) }})"
            )
        case Op.RESCAN:
            words = ["evict", "scan", "--format", "json"]
            for d in o.names:
                words += ["--directive", ps(d)]
            return "", f"$(& {' '.join(words)} | Out-Null; $LASTEXITCODE) -eq 0"
        case Op.PACKAGE_INSTALL | Op.PACKAGE_REMOVE | Op.KERNEL_MODULE_REMOVE | Op.MDM_REMOVE:
            raise RemediationError(f"{o.op.value} has no PowerShell form")
        case _:
            assert_never(o.op)
