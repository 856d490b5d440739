"""Product code stays in pieces a reader can hold: no function over 80 lines, no route closures."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [ROOT / "shared" / "src", *sorted((ROOT / "services").glob("*/src"))]
LONGEST_FUNCTION = 80


def product_modules() -> list[Path]:
    return sorted(p for root in PRODUCT for p in root.rglob("*.py"))


def functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def test_product_code_is_found() -> None:
    assert len(product_modules()) > 50


def test_no_function_in_product_code_is_over_80_lines() -> None:
    too_long = []
    for path in product_modules():
        for function in functions(ast.parse(path.read_text(encoding="utf-8"))):
            length = (function.end_lineno or function.lineno) - function.lineno + 1
            if length > LONGEST_FUNCTION:
                too_long.append(f"{path.relative_to(ROOT)}:{function.lineno} {function.name}")
    assert too_long == []


def test_routes_are_plain_functions_not_closures_inside_a_router_builder() -> None:
    """A route decorated inside another function hides in one giant builder; routes live at
    module level in a module per resource."""
    nested_routes = []
    for path in product_modules():
        for outer in functions(ast.parse(path.read_text(encoding="utf-8"))):
            for inner in functions(outer):
                if inner is not outer and any(_is_route(d) for d in inner.decorator_list):
                    nested_routes.append(f"{path.relative_to(ROOT)}:{inner.lineno} {inner.name}")
    assert nested_routes == []


def _is_route(decorator: ast.expr) -> bool:
    call = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (
        isinstance(call, ast.Attribute)
        and call.attr in {"get", "post", "put", "patch", "delete"}
        and isinstance(call.value, ast.Name)
        and call.value.id in {"router", "app"}
    )
