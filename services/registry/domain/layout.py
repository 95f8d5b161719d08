"""The reference registry's (distribution 2.x/3.x) path layout on a storage driver, so a
storage root can move between it and this registry in either direction.

    /docker/registry/v2/blobs/sha256/ab/abcd.../data
    /docker/registry/v2/repositories/<name>/_layers/sha256/<hex>/link
    /docker/registry/v2/repositories/<name>/_manifests/revisions/sha256/<hex>/link
    /docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
    /docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link
    /docker/registry/v2/repositories/<name>/_uploads/<uuid>/{data,startedat,hashstates/...}

``_referrers`` is ours (the reference 2.8 has no referrers API); the reference ignores it.
"""

from __future__ import annotations

from services.registry.domain.digests import split

ROOT = "/docker/registry/v2"
BLOBS = f"{ROOT}/blobs"
REPOSITORIES = f"{ROOT}/repositories"


def blob_dir(digest: str) -> str:
    algorithm, hex_part = split(digest)
    return f"{BLOBS}/{algorithm}/{hex_part[:2]}/{hex_part}"


def blob_data(digest: str) -> str:
    return f"{blob_dir(digest)}/data"


def repository(name: str) -> str:
    return f"{REPOSITORIES}/{name}"


def layer_link(name: str, digest: str) -> str:
    algorithm, hex_part = split(digest)
    return f"{REPOSITORIES}/{name}/_layers/{algorithm}/{hex_part}/link"


def layers(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_layers"


def manifests(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_manifests"


def revisions(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_manifests/revisions"


def revision_dir(name: str, digest: str) -> str:
    algorithm, hex_part = split(digest)
    return f"{REPOSITORIES}/{name}/_manifests/revisions/{algorithm}/{hex_part}"


def revision_link(name: str, digest: str) -> str:
    return f"{revision_dir(name, digest)}/link"


def tags(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_manifests/tags"


def tag_dir(name: str, tag: str) -> str:
    return f"{REPOSITORIES}/{name}/_manifests/tags/{tag}"


def tag_current_link(name: str, tag: str) -> str:
    return f"{tag_dir(name, tag)}/current/link"


def tag_index_link(name: str, tag: str, digest: str) -> str:
    algorithm, hex_part = split(digest)
    return f"{tag_dir(name, tag)}/index/{algorithm}/{hex_part}/link"


def uploads(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_uploads"


def upload_dir(name: str, uuid: str) -> str:
    return f"{REPOSITORIES}/{name}/_uploads/{uuid}"


def upload_data(name: str, uuid: str) -> str:
    return f"{upload_dir(name, uuid)}/data"


def upload_startedat(name: str, uuid: str) -> str:
    return f"{upload_dir(name, uuid)}/startedat"


def referrers_dir(name: str, subject: str) -> str:
    algorithm, hex_part = split(subject)
    return f"{REPOSITORIES}/{name}/_referrers/{algorithm}/{hex_part}"


def referrer_link(name: str, subject: str, digest: str) -> str:
    algorithm, hex_part = split(digest)
    return f"{referrers_dir(name, subject)}/{algorithm}/{hex_part}/link"
