"""Arithmetic on the numbers of one export row: + - * / and brackets over {Column} references."""

from __future__ import annotations

import ast
import re
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Callable

PLACEHOLDER = re.compile(r"\{([^{}]+)\}")

_OPERATORS = {
    ast.Add: lambda left, right: left + right,
    ast.Sub: lambda left, right: left - right,
    ast.Mult: lambda left, right: left * right,
    ast.Div: lambda left, right: left / right,
}


class FormulaError(ValueError):
    """A formula uses something other than numbers, {Column} references, + - * / and brackets."""


class NoOperand(Exception):
    """A column the formula reads has no value in this row."""

    def __init__(self, column: str):
        self.column = column
        super().__init__(column)


def placeholders(text: str) -> list[str]:
    """Return the column names referenced as {Column} in a template or formula, in order."""
    return PLACEHOLDER.findall(text)


class Formula:
    """A checked formula such as ({Order Item Total} - {Order Profit Per Order}) / {Order Item Quantity}."""

    def __init__(self, text: str):
        if not isinstance(text, str) or not text.strip():
            raise FormulaError("write an expression such as {Value} / {Quantity}")
        self.text = text
        self.columns: list[str] = []
        names: dict[str, str] = {}

        def name_for(match: re.Match) -> str:
            column = match.group(1)
            if column not in names:
                names[column] = f"_c{len(names)}"
                self.columns.append(column)
            return names[column]

        source = PLACEHOLDER.sub(name_for, text)
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError:
            raise FormulaError("it is not an arithmetic expression of {Column} references and numbers") from None
        self._columns_by_name = {name: column for column, name in names.items()}
        self._check(tree.body)
        self._tree = tree.body

    def _check(self, node: ast.AST) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            self._check(node.operand)
        elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return
        elif isinstance(node, ast.Name) and node.id in self._columns_by_name:
            return
        else:
            raise FormulaError(
                f"{ast.unparse(node)!r} is not allowed; use numbers, {{Column}} references, + - * / and brackets"
            )

    def evaluate(self, number_of: Callable[[str], Decimal | None]) -> Decimal:
        """Compute the formula for one row; number_of returns a column's number, or None for no value.

        Raises NoOperand when a referenced column has no value and
        ZeroDivisionError when a divisor is 0.
        """
        try:
            return self._evaluate(self._tree, number_of)
        except (DivisionByZero, InvalidOperation) as error:
            raise ZeroDivisionError(str(error)) from None

    def _evaluate(self, node: ast.AST, number_of) -> Decimal:
        if isinstance(node, ast.BinOp):
            left = self._evaluate(node.left, number_of)
            right = self._evaluate(node.right, number_of)
            if isinstance(node.op, ast.Div) and right == 0:
                raise ZeroDivisionError(ast.unparse(node.right))
            return _OPERATORS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            value = self._evaluate(node.operand, number_of)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Constant):
            return Decimal(str(node.value))
        column = self._columns_by_name[node.id]
        value = number_of(column)
        if value is None:
            raise NoOperand(column)
        return value

    def divisor_columns(self) -> list[str]:
        """Return the columns that appear in a divisor, for messages about a division by zero."""
        found = []
        for node in ast.walk(self._tree):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                for inner in ast.walk(node.right):
                    if isinstance(inner, ast.Name):
                        found.append(self._columns_by_name[inner.id])
        return found
