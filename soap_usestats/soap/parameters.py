"""Requests held to the operations' declared parameters, before Spyne reads them.

Spyne 2.14 reads requests leniently, and a typo then gives a plausible wrong
answer: it skips an element or query parameter it does not know (``statscope``),
ignores an element's namespace, reads a boolean other than ``true`` or ``1``
as false (over HTTP ``on`` and ``checked`` as true), reads a value cut by a
comment up to the comment, and takes unqualified attributes of a parameter for
parameters. What it does refuse, it reports in its own words (a class's repr,
"The value ... could not be validated").

So the protocols (``soap.protocols``) hold each decoded request to its
operation's declared parameters (Spyne's ``in_message``) first, before Spyne's
own validation:

- each element, or query parameter, is a declared parameter (a misspelled name
  is never ignored), in the service's namespace, and given at most as often as
  declared; a required one is there;
- a boolean is ``true``, ``false``, ``1`` or ``0`` (xs:boolean); an integer is a
  whole number in its type's range (xs:int); a string holds text only;
  a parameter with parts (``callinguser``, ``targetusers``) holds its parts only;
- ``xsi:nil`` is true only where the WSDL says ``nillable``, on an empty element;
  a parameter has no attributes but namespaced ones (``xsi:nil``, ``xsi:type``).

Anything else is :class:`InvalidParameter` naming the parameter by its path
(``callinguser.username``, the name a JSON query uses). Only the operation's
element and its descendants are checked; the SOAP Header (WS-Security) is not.
"""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from lxml import etree
from spyne import Boolean, Integer, Unicode
from spyne.model import ComplexModelBase

from ..exceptions import InvalidParameter

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
#: The characters XML Schema's ``collapse`` trims around a boolean or a number.
XML_SPACE = " \t\r\n"
BOOLEANS = ("true", "false", "1", "0")
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
#: How much of a refused value, or of an unknown name, a message repeats.
_SHOWN = 40
_NAME_SHOWN = 64


@dataclass(frozen=True)
class Parameter:
    """A declared parameter: a value (``read``) or a holder of ``parts``."""

    path: str                     # callinguser.username; the operation's name at the top
    name: str                     # username
    min_occurs: int
    max_occurs: float
    nillable: bool
    read: Callable[[str], None] | None = None       # checks a value's text
    namespace: str | None = None                     # of the parts' elements
    parts: dict[str, Parameter] = field(default_factory=dict)
    operation: bool = False       # the operation itself: its parts' paths are their names

    def part_path(self, name: str) -> str:
        return name if self.operation else f"{self.path}.{name}"

    def part_paths(self) -> list[str]:
        return [part.path for part in self.parts.values()]


@cache
def declared(message: type[ComplexModelBase]) -> Parameter:
    """The parameters of an operation, from its Spyne ``in_message``."""
    return _parameter(message.get_type_name(), message, operation=True)


def _parameter(path: str, model, operation: bool = False) -> Parameter:
    name, attributes = path.rsplit(".", 1)[-1], model.Attributes
    occurs = dict(min_occurs=attributes.min_occurs, max_occurs=attributes.max_occurs,
                  nillable=attributes.nillable)
    if issubclass(model, ComplexModelBase):
        prefix = "" if operation else f"{path}."
        parts = {name: _parameter(prefix + name, member)
                 for name, member in model.get_flat_type_info(model).items()}
        return Parameter(path, name, **occurs, namespace=model.get_namespace(), parts=parts,
                         operation=operation)
    return Parameter(path, name, **occurs, read=_reader(path, model))


def _reader(path: str, model) -> Callable[[str], None]:
    if issubclass(model, Boolean):
        return lambda text: _boolean(path, text)
    if issubclass(model, Integer):
        form = f"a whole number from {{}} to {{}} (xs:{model.get_type_name()})"
        low, high = _bounds(path, model.Attributes)
        return lambda text: _integer(path, text, low, high, form.format(low, high))
    if issubclass(model, Unicode):
        if model.is_default(model):     # no length or pattern: any text is a string
            return lambda text: None
        return lambda text: _text(path, model, text)
    raise TypeError(f"parameter {path}: no check for {model.__name__}")


def _bounds(path: str, attributes) -> tuple[int, int]:
    """The range of an integer type (xs:int: -2147483648 to 2147483647)."""
    lows = [attributes.ge, attributes.gt + 1, getattr(attributes, "min_bound", None)]
    highs = [attributes.le, attributes.lt - 1, getattr(attributes, "max_bound", None)]
    low = max(bound for bound in lows if bound is not None)
    high = min(bound for bound in highs if bound is not None)
    if math.isinf(low) or math.isinf(high):
        raise TypeError(f"parameter {path}: an integer parameter needs a bounded type (xs:int)")
    return int(low), int(high)


def _boolean(path: str, text: str) -> None:
    if text.strip(XML_SPACE) not in BOOLEANS:
        raise _malformed(path, text, "true, false, 1 or 0 (xs:boolean)")


def _integer(path: str, text: str, low: int, high: int, form: str) -> None:
    number = text.strip(XML_SPACE)
    digits = number.lstrip("+-").lstrip("0")    # bounded before int() reads them
    if (not _WHOLE_NUMBER.fullmatch(number) or len(digits) > len(str(max(-low, high)))
            or not low <= int(number) <= high):
        raise _malformed(path, text, form)


def _malformed(path: str, text: str, form: str) -> InvalidParameter:
    if not text.strip(XML_SPACE):
        return InvalidParameter(f"{path} is empty; give {form}, or leave {path} out")
    return InvalidParameter(f"{path} must be {form}{_shown(text)}")


def _text(path: str, model, text: str) -> None:
    if not (model.validate_string(model, text) and model.validate_native(model, text)):
        raise InvalidParameter(f"{path} is not of the length or the form the WSDL declares"
                               f"{_shown(text)}")


def _shown(text: str) -> str:
    """``, not "yes"``: the refused value, when it is short and printable."""
    if len(text) <= _SHOWN and text.isprintable():
        return f', not "{text}"'
    return ""


# -- SOAP: the operation's element --------------------------------------------------------


def check_element(message: type[ComplexModelBase], element: etree._Element) -> None:
    """Hold the operation's ``element`` (the SOAP Body's entry) to ``message``'s parameters.

    An ``xsi:nil`` that is false is removed, as it means nothing and Spyne would read
    any ``xsi:nil`` as nil.
    """
    operation = declared(message)
    _no_attributes(operation, element)
    _parts(operation, element, operation)


def _parts(holder: Parameter, element: etree._Element, operation: Parameter) -> None:
    """``element`` holds ``holder``'s parts, as elements, and nothing else."""
    _no_text(holder, element.text)
    counts: Counter[str] = Counter()
    for child in element:
        _no_text(holder, child.tail)
        if not isinstance(child.tag, str):      # a comment
            continue
        name = etree.QName(child)
        part = holder.parts.get(name.localname)
        if part is None:
            raise _unknown(holder.part_path(name.localname), holder.part_paths(), operation)
        if name.namespace != holder.namespace:
            where = f"the namespace {name.namespace}" if name.namespace else "no namespace"
            raise InvalidParameter(f"{part.path} is in {where}; give it in the namespace "
                                   f"{holder.namespace}, as the WSDL declares it "
                                   "(elementFormDefault qualified)")
        counts[part.name] += 1
        if counts[part.name] > part.max_occurs:
            raise _repeated(part, counts[part.name])
        _value(part, child, operation)
    _required(holder, counts)


def _value(part: Parameter, element: etree._Element, operation: Parameter) -> None:
    """``element`` gives ``part``: nil, its parts, or its value as text."""
    _no_attributes(part, element)
    if _nil(part, element):
        return
    if part.read is None:
        _parts(part, element, operation)
        return
    if len(element):
        raise InvalidParameter(f"{part.path} holds markup; give its value as text only")
    part.read(element.text or "")


def _nil(part: Parameter, element: etree._Element) -> bool:
    """Whether ``element`` is nil (``xsi:nil`` true), where ``part`` may be and as it may be."""
    marker = element.get(XSI_NIL)
    if marker is None:
        return False
    marker = marker.strip(XML_SPACE)
    if marker in ("false", "0"):
        del element.attrib[XSI_NIL]
        return False
    if marker not in ("true", "1"):
        raise InvalidParameter(f"the xsi:nil of {part.path} must be true or false")
    if not part.nillable:
        raise InvalidParameter(f"{part.path} cannot be nil (xsi:nil)")
    if len(element) or (element.text or "").strip(XML_SPACE):
        raise InvalidParameter(f"{part.path} is nil (xsi:nil) and yet holds a value")
    return True


def _no_attributes(parameter: Parameter, element: etree._Element) -> None:
    for name in element.attrib:
        if not name.startswith("{"):
            raise InvalidParameter(f"{parameter.path} has an attribute {_short(name)}: parameters "
                                   "are elements, and have no attributes")


def _no_text(holder: Parameter, text: str | None) -> None:
    if text and text.strip(XML_SPACE):
        raise InvalidParameter(f"{holder.path} holds text{_shown(text.strip())}; give its "
                               f"parameters as elements: {', '.join(holder.part_paths())}")


# -- JSON: the query ----------------------------------------------------------------------


def check_query(message: type[ComplexModelBase], query: dict[str, list[str | None]],
                others: tuple[str, ...] = ()) -> None:
    """Hold a query, decoded as Spyne's HTTP protocol does (each name's values, ``None``
    for a name without ``=``), to ``message``'s parameters; ``others`` are query names
    that are no parameters (credentials)."""
    operation = declared(message)
    names = _query_names(message)
    for name, given in query.items():
        if name in others:
            continue
        known = names.get(name)
        if known is None:
            raise _unknown(name, [n for n, k in names.items() if k.parameter.read], operation)
        if known.parameter.read is None:
            raise InvalidParameter(f"{name} has parts; give them as "
                                   f"{' or '.join(known.parameter.part_paths())}")
        if len(given) > known.most:
            raise _repeated(known.parameter, len(given))
        for text in given:
            known.parameter.read(text or "")
    for name, known in names.items():
        if known.required and name not in query:
            raise InvalidParameter(f"{name} is required")


@dataclass(frozen=True)
class _QueryName:
    """A parameter as a query names it (``callinguser.username``)."""

    parameter: Parameter
    most: float            # values it may be given: its own max_occurs times its holders'
    required: bool         # required, and so are its holders


@cache
def _query_names(message: type[ComplexModelBase]) -> dict[str, _QueryName]:
    names: dict[str, _QueryName] = {}

    def add(parameter: Parameter, most: float, required: bool) -> None:
        most, required = most * parameter.max_occurs, required and parameter.min_occurs >= 1
        names[parameter.path] = _QueryName(parameter, most, required)
        for part in parameter.parts.values():
            add(part, most, required)

    for parameter in declared(message).parts.values():
        add(parameter, 1, True)
    return names


# -- messages ---------------------------------------------------------------------------


def _unknown(path: str, known: list[str], operation: Parameter) -> InvalidParameter:
    guess = difflib.get_close_matches(path, known, n=1, cutoff=0.75)
    hint = f"did you mean {guess[0]}?" if guess else f"its parameters are {', '.join(known)}"
    return InvalidParameter(f"{_short(path)} is not a parameter of {operation.path}; {hint}")


def _short(name: str) -> str:
    return name if len(name) <= _NAME_SHOWN else name[:_NAME_SHOWN - 1] + "…"


def _repeated(parameter: Parameter, count: int) -> InvalidParameter:
    most = "once" if parameter.max_occurs == 1 else f"at most {parameter.max_occurs:g} times"
    return InvalidParameter(f"{parameter.path} is given {count} times; give it {most}")


def _required(holder: Parameter, counts: Counter) -> None:
    for part in holder.parts.values():
        if counts[part.name] < part.min_occurs:
            raise InvalidParameter(f"{part.path} is required")
