/*
 * Kaspersky executables, recognised by what the vendor writes into its own PE files: the
 * version resource (CompanyName, ProductName, OriginalFilename) and the Authenticode signer.
 *
 * These rules read the parsed structures of the `pe` module, never loose strings: malware that
 * probes for antivirus carries "klif.sys", "avp.exe" and "Kaspersky Lab" in its data (see the
 * decoys in the research notes: CAPE's PCRat.yar and Amadey.yar look for exactly those), and a
 * help-desk note or an uninstall script mentions them too. None of those has a Kaspersky version
 * resource or signer. The wide "Kaspersky" string only lets YARA skip files that cannot match.
 *
 * The `pe` tag tells evict to run these rules on PE files only; `meta: vendor` is the publisher
 * evict reports for a match, which the catalog's Kaspersky publisher rules recognise.
 *
 * Sources: company names from Microsoft's minifilter altitude list ("Kaspersky Lab",
 * MicrosoftDocs/windows-driver-docs ifs/allocated-altitudes.md) and winget manifests
 * ("AO Kaspersky Lab", microsoft/winget-pkgs manifests/k/Kaspersky); driver names from the
 * altitude list and SigmaHQ's service-tamper rule; signer subject from a 2021+ installer.
 */

import "pe"

private rule Kaspersky_Company : pe
{
    meta:
        description = "The version resource names a Kaspersky legal entity as CompanyName"
    strings:
        $wide = "Kaspersky" wide
    condition:
        uint16(0) == 0x5A4D and $wide and
        pe.version_info["CompanyName"] matches /^(AO |JSC )?Kaspersky( Lab( ZAO| JSC)?)?$/
}

rule Kaspersky_PE_Version_Resource : pe
{
    meta:
        vendor = "AO Kaspersky Lab"
        description = "A Kaspersky product file: Kaspersky CompanyName and a Kaspersky ProductName"
        source = "microsoft/winget-pkgs manifests/k/Kaspersky; windows-driver-docs allocated-altitudes.md"
    condition:
        Kaspersky_Company and pe.version_info["ProductName"] matches /^Kaspersky /
}

rule Kaspersky_Driver : pe
{
    meta:
        vendor = "AO Kaspersky Lab"
        description = "A Kaspersky kernel driver (under any file name): native subsystem, Kaspersky CompanyName, a Kaspersky driver as OriginalFilename"
        source = "MicrosoftDocs/windows-driver-docs ifs/allocated-altitudes.md; SigmaHQ/sigma proc_creation_win_susp_service_tamper.yml"
    condition:
        Kaspersky_Company and pe.subsystem == pe.SUBSYSTEM_NATIVE and
        pe.version_info["OriginalFilename"] matches /^(klif|klflt|klhk|klam|klbg|kldback|kldlinf|kldtool|klboot|klfdefsf|klrsps|klsnsr|klifks|klifaa|klifsm|klcdp|klshadow|klsysrec|klvfs|klfle|klvirt|klbackupflt|klbackupdisk|klsec|klim6|klkbdflt|klmouflt|klpd|kltap|kldisk|klgse|klpnpflt|klwtp|klids|kl1|kneps|klwfp|klelam)\.sys$/i
}

rule Kaspersky_Authenticode_Signer : pe
{
    meta:
        vendor = "AO Kaspersky Lab"
        description = "Authenticode-signed by a Kaspersky organisation (leaf subject O=); the chain is not checked"
        source = "code-signing subject CN=AO Kaspersky Lab, O=AO Kaspersky Lab, L=Moscow, C=RU (research notes)"
    condition:
        uint16(0) == 0x5A4D and
        for any i in (0 .. pe.number_of_signatures - 1) : (
            pe.signatures[i].subject matches /\/O=(AO )?Kaspersky Lab( ZAO| JSC)?(\/|$)/
        )
}
