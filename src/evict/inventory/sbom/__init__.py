"""Software bills of materials as inventory sources: CycloneDX (JSON, XML) and SPDX 2.x.

Each SBOM file is one "host" in evict's terms: the asset it describes, a product or a host image.
The host is named after the SBOM's subject (CycloneDX ``metadata.component`` name and version,
SPDX document name), or the file name when the SBOM names none; the platform comes from an
operating-system component, or Linux when the packages are deb, rpm or apk.

**Why components are a kind of their own.** NDAA FY2018 §1634 ("in whole or in part") and the 2024
BIS ban on Kaspersky cover Kaspersky code embedded in other vendors' products; BOD 17-01 expressly
does not ("does not address Kaspersky code embedded in the products of other companies"). So:

- every component in an SBOM (CycloneDX ``components``, nested to any depth; SPDX ``packages``)
  becomes an observation of kind ``sbom_component``, with its purl, CPEs and supplier;
- the SBOM's subject, when it is an application or firmware (CycloneDX ``metadata.component``
  ``type``; SPDX ``primaryPackagePurpose`` of the described package), becomes a ``program``: a
  Kaspersky product's own SBOM is the product itself, and every directive covers it;
- a subject that is a container, device, operating system or directory is the host itself and
  is not an observation; a library or framework subject is a component like the others.

The matcher marks a finding ``embedded`` when all its evidence is ``sbom_component``, and
``Catalog.directives_for(product, embedded=True)`` then leaves out the directives that do not
cover embedded code (BOD 17-01). A Kaspersky SDK inside a firewall's firmware is therefore an
NDAA and BIS finding, not a BOD 17-01 one.

**Host images.** An SBOM of a whole host image (syft or trivy run over a VM disk or a container)
lists installed packages as components too: ``kesl`` in such an SBOM means Kaspersky Endpoint
Security is installed on machines built from that image. evict still reports it as embedded,
since an SBOM alone cannot tell an installed product from bundled code; the operator who knows
what the image is attributes it, or scans the hosts themselves.

Files listed inside an SBOM (SPDX ``files``, CycloneDX components of type ``file``) are not
observations: the package that owns a file stands for it.

Limits (:class:`SbomLimits`): files over 256 MiB, components nested over 64 deep and more than
five million components are refused with :class:`SbomInputError`, as are XML documents with a DTD
(so no entity expansion or external entities).
"""

from evict.inventory.sbom._common import SbomInputError, SbomLimits, SbomSource
from evict.inventory.sbom.cyclonedx import CycloneDxInputError, CycloneDxSource
from evict.inventory.sbom.spdx import SpdxInputError, SpdxSource

__all__ = [
    "CycloneDxInputError",
    "CycloneDxSource",
    "SbomInputError",
    "SbomLimits",
    "SbomSource",
    "SpdxInputError",
    "SpdxSource",
]
