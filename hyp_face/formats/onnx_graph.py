"""Read an ONNX model's graph and initializers (protobuf parsing via the ``onnx`` package; nothing is executed).

The graph is only *inspected*: node order, operator types, attributes and weight tensors, so that a torch module
written by us can be filled with the weights. ``Identity`` nodes whose input is an initializer (an artefact of
tracing shared modules) are resolved to that initializer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class OnnxNode:
    """One graph node: operator type, inputs, outputs and decoded attributes."""

    op_type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict = field(default_factory=dict)


@dataclass
class OnnxGraph:
    """Nodes in graph order and initializers as numpy arrays (Identity aliases of initializers included)."""

    nodes: list[OnnxNode]
    initializers: dict[str, np.ndarray]
    inputs: list[str]
    outputs: list[str]

    def weight(self, name: str) -> np.ndarray:
        """The initializer ``name`` (KeyError naming it if it is not a constant)."""
        try:
            return self.initializers[name]
        except KeyError:
            raise KeyError(f"ONNX tensor {name!r} is not an initializer") from None

    def nodes_of(self, op_type: str) -> list[OnnxNode]:
        """Nodes of one operator type, in graph order."""
        return [node for node in self.nodes if node.op_type == op_type]


def read_onnx(source: str | Path | bytes) -> OnnxGraph:
    """Parse an ONNX model from a file path or from its serialized bytes."""
    import onnx
    from onnx import numpy_helper

    try:
        if isinstance(source, (bytes, bytearray)):
            model = onnx.load_from_string(bytes(source))
        else:
            model = onnx.load(str(source))
    except Exception as err:  # protobuf DecodeError and friends
        raise ValueError(f"{source if not isinstance(source, (bytes, bytearray)) else '<bytes>'}: "
                         f"not a readable ONNX model: {err}") from err
    graph = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    nodes = [
        OnnxNode(n.op_type, n.name, tuple(n.input), tuple(n.output),
                 {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute})
        for n in graph.node
    ]
    for node in nodes:  # Identity of an initializer is the same constant under another name
        if node.op_type == "Identity" and node.inputs[0] in inits:
            inits[node.outputs[0]] = inits[node.inputs[0]]
    init_names = {t.name for t in graph.initializer}
    return OnnxGraph(
        nodes=nodes,
        initializers=inits,
        inputs=[i.name for i in graph.input if i.name not in init_names],
        outputs=[o.name for o in graph.output],
    )
