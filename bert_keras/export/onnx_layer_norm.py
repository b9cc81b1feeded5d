"""Keras's layer normalization as one ONNX `LayerNormalization` node.

tf2onnx writes the TensorFlow graph of `keras.layers.LayerNormalization`
op by op (mean, squared difference, variance, rsqrt, two scale-and-shift
branches), and has no rewrite to opset 17's `LayerNormalization`, which
ONNX Runtime runs as one fused kernel (and fuses further with the residual
add). Written by hand because no converter does it for this pattern:
`fuse_layer_norms(graph)` finds each such subgraph by its exact shape and
replaces it in place.
"""

from onnx import helper, numpy_helper

# The reductions tf2onnx writes for a mean over the last axis of a
# [batch, seq, hidden] tensor (GlobalAveragePool) or of any tensor.
_MEANS = ("GlobalAveragePool", "ReduceMean")


def fuse_layer_norms(graph):
    """Replaces every Keras layer normalization in `graph`; returns the count."""
    nodes = _Nodes(graph)
    fused = 0
    for reciprocal in [node for node in graph.node if node.op_type == "Reciprocal"]:
        match = _match(nodes, reciprocal)
        if match is None:
            continue
        x, scale, bias, epsilon, output, removed = match
        index = list(graph.node).index(removed[-1])
        graph.node.insert(index, helper.make_node(
            "LayerNormalization", [x, scale, bias], [output], axis=-1, epsilon=epsilon,
            name=f"{output.rsplit(':', 1)[0]}/LayerNormalization",
        ))
        for node in removed:
            graph.node.remove(node)
        fused += 1
    _drop_unused(graph)
    return fused


class _Nodes:
    """The producer and consumers of each tensor, and the constants."""

    def __init__(self, graph):
        self.producer = {name: node for node in graph.node for name in node.output}
        self.consumers = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.initializers = {tensor.name: tensor for tensor in graph.initializer}

    def make(self, name, op_type):
        node = self.producer.get(name)
        return node if node is not None and node.op_type == op_type else None

    def only_consumer(self, name, op_type):
        users = self.consumers.get(name, [])
        return users[0] if len(users) == 1 and users[0].op_type == op_type else None

    def constant(self, name):
        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        node = self.make(name, "Constant")
        return None if node is None else numpy_helper.to_array(node.attribute[0].t)

    def vector(self, name):
        """The initializer behind `name`, itself or reshaped from a vector."""
        reshape = self.make(name, "Reshape")
        source = reshape.input[0] if reshape is not None else name
        if source in self.initializers and len(self.initializers[source].dims) == 1:
            return source
        return None


def _mean_of(nodes, name):
    node = nodes.producer.get(name)
    if node is None or node.op_type not in _MEANS:
        return None
    if node.op_type == "ReduceMean":
        axes = nodes.constant(node.input[1]) if len(node.input) > 1 else None
        keepdims = next((a.i for a in node.attribute if a.name == "keepdims"), 1)
        if axes is None or list(axes.reshape(-1)) != [-1] or not keepdims:
            return None
    return node


def _match(nodes, reciprocal):
    """`(x, scale, bias, epsilon, output, nodes)` where `reciprocal` is the
    1/sqrt(variance + epsilon) of a Keras layer normalization, else None."""
    sqrt = nodes.make(reciprocal.input[0], "Sqrt")
    add_epsilon = sqrt and nodes.make(sqrt.input[0], "Add")
    if add_epsilon is None:
        return None
    variance = _mean_of(nodes, add_epsilon.input[0])
    epsilon = nodes.constant(add_epsilon.input[1])
    square = variance and nodes.make(variance.input[0], "Mul")
    if square is None or epsilon is None or epsilon.size != 1 or square.input[0] != square.input[1]:
        return None
    difference = nodes.make(square.input[0], "Sub")
    mean = difference and _mean_of(nodes, difference.input[1])
    if mean is None or mean.input[0] != difference.input[0]:
        return None
    x = difference.input[0]
    # inverse * gamma scales both x and -mean; their sum plus beta is the output.
    scaled = nodes.only_consumer(reciprocal.output[0], "Mul")
    scale = scaled and nodes.vector(_other(scaled, reciprocal.output[0]))
    users = nodes.consumers.get(scaled.output[0], []) if scale else []
    negate = next((n for n in nodes.consumers.get(mean.output[0], []) if n.op_type == "Neg"), None)
    if len(users) != 2 or negate is None or any(u.op_type != "Mul" for u in users):
        return None
    x_scaled = next((u for u in users if x in u.input), None)
    mean_scaled = next((u for u in users if negate.output[0] in u.input), None)
    shift = mean_scaled and nodes.only_consumer(mean_scaled.output[0], "Add")
    bias = shift and nodes.vector(_other(shift, mean_scaled.output[0]))
    total = bias and nodes.only_consumer(shift.output[0], "Add")
    if x_scaled is None or total is None or set(total.input) != {x_scaled.output[0], shift.output[0]}:
        return None
    removed = [mean, negate, difference, square, variance, add_epsilon, sqrt, reciprocal,
               scaled, x_scaled, mean_scaled, shift, total]
    return x, scale, bias, float(epsilon.reshape(-1)[0]), total.output[0], removed


def _other(node, name):
    return node.input[1] if node.input[0] == name else node.input[0]


def _drop_unused(graph):
    """Removes the nodes and initializers nothing reads any more."""
    while True:
        used = {name for node in graph.node for name in node.input}
        used.update(output.name for output in graph.output)
        dead = [node for node in graph.node if not any(name in used for name in node.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    unused = [tensor for tensor in graph.initializer if tensor.name not in used]
    for tensor in unused:
        graph.initializer.remove(tensor)

