"""The kernel's static files: htmx is the pinned release, byte for byte, and every page's
layout loads it and the kernel's own script from this origin only."""

from __future__ import annotations

import hashlib

from corroborate.web.pages import HTMX, STATIC, TEMPLATES

HTMX_2_0_11_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
"""sha256 of dist/htmx.min.js in the npm package htmx.org@2.0.11."""


def test_the_vendored_htmx_is_the_pinned_release() -> None:
    served = (STATIC / HTMX).read_bytes()
    assert hashlib.sha256(served).hexdigest() == HTMX_2_0_11_SHA256
    assert (
        (STATIC / "vendor" / "htmx-LICENSE")
        .read_text(encoding="utf-8")
        .startswith("Zero-Clause BSD")
    )


def test_the_layout_loads_scripts_from_this_origin_only_and_none_inline() -> None:
    layout = (TEMPLATES / "layout.html").read_text(encoding="utf-8")
    scripts = [line.strip() for line in layout.splitlines() if "<script" in line]
    assert scripts == [
        '<script src="/static/{{ htmx }}" defer></script>',
        '<script src="/static/corroborate.js" defer></script>',
    ]
    assert '"includeIndicatorStyles": false' in layout  # htmx adds no inline style
