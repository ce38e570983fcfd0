"""Readers of foreign checkpoint formats (MXNet .params, ONNX, .pth, dlib)."""
