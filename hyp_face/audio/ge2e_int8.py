"""``speaker_precision=int8`` of the GE2E encoder (``hyp_face.audio.ge2e``): its second and third LSTM layers in int8
on onnxruntime, its first layer in bfloat16 (float32 on a CPU without native bf16), the linear layer in float32.

The two upper layers are onnxruntime's ``DynamicQuantizeLSTM`` (com.microsoft): weights quantized once, symmetric
int8 per gate row; the layer's input and hidden state quantized per call and step to uint8, then VNNI integer GEMMs.
The first layer stays out of int8: its input is the mel *power*, whose range (several orders of magnitude within a
window) one per-tensor uint8 scale cannot hold; in int8 it loses the voice (cosine 0.4-0.6 to float32). It runs as
torch's (oneDNN) LSTM under CPU autocast. The graph is built in memory from the loaded network: no file, no export.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

QUANTIZED_LAYERS = (1, 2)  # the LSTM layers that run in int8 (0-based; layer 0 reads the mel power)


def onnx_gate_order(a: np.ndarray) -> np.ndarray:
    """Rows of torch's LSTM gates (input, forget, cell, output) in ONNX's order (input, output, forget, cell)."""
    i, f, g, o = np.split(a, 4, axis=0)
    return np.concatenate([i, o, f, g], axis=0)


def quantize_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 of each row of ``w`` (zero point 0) and the rows' float32 scales."""
    scale = np.maximum(np.abs(w).max(axis=1), np.finfo(np.float32).tiny) / 127.0
    return np.clip(np.round(w / scale[:, None]), -127, 127).astype(np.int8), scale.astype(np.float32)


def upper_layers_graph(lstm: nn.LSTM) -> bytes:
    """ONNX model ``X1`` (T, B, H), the outputs of ``lstm``'s first layer -> ``H`` (1, B, H), its last layer's
    final hidden state, through the layers of ``QUANTIZED_LAYERS`` as ``DynamicQuantizeLSTM``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    state = {k: v.detach().cpu().numpy() for k, v in lstm.state_dict().items()}
    hidden = lstm.hidden_size
    nodes, inits, x = [], [], "X1"
    for n, layer in enumerate(QUANTIZED_LAYERS):
        last = n == len(QUANTIZED_LAYERS) - 1
        wq, ws = quantize_rows(onnx_gate_order(state[f"weight_ih_l{layer}"]))
        rq, rs = quantize_rows(onnx_gate_order(state[f"weight_hh_l{layer}"]))
        bias = np.concatenate([onnx_gate_order(state[f"bias_{kind}_l{layer}"]) for kind in ("ih", "hh")])
        zero_points = np.zeros((1, len(ws)), np.int8)
        names = [f"{p}{layer}" for p in ("W", "R", "B", "Ws", "Wz", "Rs", "Rz")]
        values = (wq.T[None], rq.T[None], bias[None], ws[None], zero_points, rs[None], zero_points)
        inits += [numpy_helper.from_array(np.ascontiguousarray(v), name) for name, v in zip(names, values)]
        inputs = [x, names[0], names[1], names[2], "", "", "", "", *names[3:]]
        outputs = ["", "H"] if last else [f"Y{layer}"]
        nodes.append(helper.make_node("DynamicQuantizeLSTM", inputs, outputs, hidden_size=hidden,
                                      domain="com.microsoft"))
        if not last:  # Y (T, 1, B, H) -> the next layer's X (T, B, H)
            x = f"X{layer + 1}"
            nodes.append(helper.make_node("Squeeze", [f"Y{layer}", "direction_axis"], [x]))
    inits.append(numpy_helper.from_array(np.array([1], np.int64), "direction_axis"))
    graph = helper.make_graph(nodes, "ge2e_int8",
                              [helper.make_tensor_value_info("X1", TensorProto.FLOAT, ["T", "B", hidden])],
                              [helper.make_tensor_value_info("H", TensorProto.FLOAT, [1, "B", hidden])], inits)
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    onnx.checker.check_model(model)
    return model.SerializeToString()


class Int8GE2E:
    """(B, 160, 40) mel windows -> (B, 256) unit-norm embeddings; safe to call from several threads at once."""

    def __init__(self, net: nn.Module):
        """``net``: a ``hyp_face.audio.ge2e.GE2ENet`` (its ``lstm`` and ``embed_hidden``)."""
        try:
            import onnxruntime as ort
        except ImportError:
            raise ImportError("speaker_precision=int8 needs onnxruntime: pip install -e '.[audio]'") from None
        self.net = net
        self.first = nn.LSTM(net.lstm.input_size, net.lstm.hidden_size, 1)
        self.first.load_state_dict({k: v for k, v in net.lstm.state_dict().items() if k.endswith("_l0")})
        self.first.eval()
        self.first_dtype = torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else None
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(upper_layers_graph(net.lstm), options, providers=["CPUExecutionProvider"])

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(windows.transpose(1, 0, 2)))  # (T, B, 40): ONNX's layout
        dtype = self.first_dtype
        with torch.inference_mode():
            with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                first = self.first(x)[0].float().numpy()
            hidden = self.session.run(None, {"X1": first})[0][0]
            return self.net.embed_hidden(torch.from_numpy(hidden)).numpy()
