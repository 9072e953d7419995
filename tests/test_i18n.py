"""One catalogue: every message the pages use has its Chinese, and nothing else is in it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import courier
from courier.i18n import catalogue_path, text_for

FIELD = re.compile(r"\{(\w*)[^{}]*\}")


def _calls(tree: ast.AST) -> list[tuple[int, tuple[str, ...]]]:
    """Message ids of t("..."), N_("...") and x.n("singular", "plural", count) calls (a call
    with a computed id, t(REASONS[code]), translates an N_-marked text).

    An AST walk rather than Babel's token-based extractor: it also finds calls inside
    f-strings, where pages build most of their HTML.
    """
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        count = (1 if isinstance(func, ast.Name) and func.id in ("t", "N_") else
                 2 if isinstance(func, ast.Attribute) and func.attr == "n" else 0)
        args = node.args[:count]
        if count and len(args) == count and all(
                isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
            found.append((node.lineno, tuple(a.value for a in args)))  # type: ignore[attr-defined]
    return found


def _used() -> set[str]:
    ids: set[str] = set()
    for path in Path(courier.__file__).parent.rglob("*.py"):
        for _line, messages in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            ids.update(messages)
    return ids


def _catalogue() -> dict[str, tuple[str, ...]]:
    with catalogue_path("zh").open("rb") as fh:
        catalog = read_po(fh)
    out: dict[str, tuple[str, ...]] = {}
    for msg in catalog:
        if not msg.id:
            continue
        assert not msg.fuzzy, f"fuzzy translation: {msg.id!r}"
        ids = msg.id if isinstance(msg.id, tuple) else (msg.id,)
        strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        for mid in ids:
            out[mid] = strings
    return out


def test_every_message_has_its_chinese_and_keeps_its_placeholders() -> None:
    used, catalogue = _used(), _catalogue()
    assert used, "no message found: the extractor's keywords no longer match the code"
    missing = sorted(used - set(catalogue))
    assert not missing, f"no Chinese for: {missing}"
    for mid in used:
        for translated in catalogue[mid]:
            assert translated.strip(), f"empty translation for {mid!r}"
            assert set(FIELD.findall(translated)) <= set(FIELD.findall(mid)) | {"n"}, (
                f"{mid!r} -> {translated!r} names a placeholder the code does not give")
            assert set(FIELD.findall(mid)) - {"n"} <= set(FIELD.findall(translated)), (
                f"{mid!r} -> {translated!r} drops a placeholder")


def test_the_catalogue_holds_no_message_the_code_no_longer_uses() -> None:
    unused = sorted(set(_catalogue()) - _used())
    assert not unused, f"obsolete messages in the catalogue: {unused}"


def test_text_translates_formats_and_refuses_unknown_languages() -> None:
    zh, en = text_for("zh"), text_for("en")
    assert zh.html_lang == "zh-CN" and en.html_lang == "en"
    assert en.num(12345.678) == "12,345.7" and zh.num(3, 0) == "3"
    with pytest.raises(ValueError, match="allowed: zh, en"):
        text_for("fr")
