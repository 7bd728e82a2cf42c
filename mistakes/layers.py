"""Realistic wrong answers for Part 3 (layers as computation graphs).

Each mistake is the notebook's own solution cell with one realistic change, so the catalogue follows the
notebook: an edit that no longer applies fails loudly at import instead of testing stale code.
"""
from mistakes import Mistake, SolutionEdits

_EDITS = SolutionEdits("03-layers/layers.ipynb")
NOTEBOOK, SOLUTIONS, _edit = _EDITS.path, _EDITS.solutions, _EDITS.edit


SIGMOID = ("test_sigmoid_values", "test_sigmoid_random")
RELU = ("test_relu_lecture_example", "test_relu_random")
AFFINE = ("test_affine_small_batch", "test_affine_random", "test_affine_any_shape")
NET_GRADIENT = "test_two_layer_net_gradient"
# A wrong gradient shape (or a crash in backward) also fails the visible shape test and the backprop check.
NET_ALL_BUT_FORWARD = ["test_two_layer_net_shapes", NET_GRADIENT, "test_two_layer_net_backprop"]
BACKPROP_BODY = """        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        first, second = self.layers["Affine1"], self.layers["Affine2"]
        return {"W1": first.dW, "b1": first.db, "W2": second.dW, "b2": second.db}
"""
SOFTMAX_FUNCTIONS = "test_softmax_functions_random"
BACKWARD_DX = "dx = dout * self.out * (1 - self.out)   # y (1 - y): the stored output is all we need"

MISTAKES = [
    # Sigmoid
    Mistake("sigmoid_uses_x", "Sigmoid.backward uses the input x instead of the stored output",
            _edit("sigmoid_layer", ("self.out = out", "self.out = out\n        self.x = x"),
                  (BACKWARD_DX, "dx = dout * self.x * (1 - self.x)")), list(SIGMOID)),
    Mistake("sigmoid_ignores_dout", "Sigmoid.backward returns the local derivative without dout",
            _edit("sigmoid_layer", (BACKWARD_DX, "dx = self.out * (1 - self.out)")), list(SIGMOID)),
    Mistake("sigmoid_forward_in_place", "Sigmoid.forward negates its input array in place",
            _edit("sigmoid_layer", ("out = 1 / (1 + np.exp(-x))", "x *= -1\n        out = 1 / (1 + np.exp(x))")),
            ["test_sigmoid_random"]),
    # Relu
    Mistake("relu_no_mask", "Relu.backward passes dout on without the mask",
            _edit("relu_layer", ("        dx[self.mask] = 0\n", "")), list(RELU) + [NET_GRADIENT]),
    Mistake("relu_forward_in_place", "Relu.forward zeroes the negative entries of its input itself",
            _edit("relu_layer", ("out = x.copy()\n        out[self.mask] = 0", "x[self.mask] = 0\n        out = x")),
            list(RELU)),
    Mistake("relu_ignores_dout", "Relu.backward returns the 0/1 local derivative instead of masking dout",
            _edit("relu_layer", ("dx = dout.copy()\n        dx[self.mask] = 0", "dx = (~self.mask).astype(float)")),
            list(RELU) + [NET_GRADIENT]),
    Mistake("relu_mask_from_dout", "Relu.backward builds its mask from the sign of dout",
            _edit("relu_layer", ("dx[self.mask] = 0", "dx[dout <= 0] = 0")), list(RELU) + [NET_GRADIENT]),
    Mistake("relu_difference_quotient", "Relu.backward computes a difference quotient of ReLU at the stored input",
            _edit("relu_layer", ("self.mask = (x <= 0)\n        out", "self.x = x.copy()\n        self.mask = (x <= 0)\n        out"),
                  ("dx = dout.copy()\n        dx[self.mask] = 0",
                   "h = 1e-4\n        dx = dout * (np.maximum(self.x + h, 0) - np.maximum(self.x - h, 0)) / (2 * h)")),
            ["test_relu_random"]),
    Mistake("relu_hard_coded", "Relu returns the lecture's numbers whatever its input",
            {"relu_layer": '''
class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = np.array([[False, True], [False, True]])
        return np.array([[0.5, 0.0], [0.4, 0.0]])

    def backward(self, dout):
        return np.array([[1.0, 0.0], [3.0, 0.0]])
'''}, ["test_relu_random", NET_GRADIENT, "test_two_layer_net_forward", "test_two_layer_net_shapes",
              "test_two_layer_net_backprop"]),
    # Affine
    Mistake("affine_dW_transposed", "Affine.backward computes dW = doutᵀ · x (the transpose of the right answer)",
            _edit("affine_layer", ("self.dW = self.x.T @ dout", "self.dW = dout.T @ self.x")),
            list(AFFINE) + NET_ALL_BUT_FORWARD),
    Mistake("affine_dx_no_transpose", "Affine.backward computes dx = dout · W, without the transpose",
            _edit("affine_layer", ("dx = dout @ self.W.T", "dx = dout @ self.W")), list(AFFINE) + NET_ALL_BUT_FORWARD),
    Mistake("affine_db_not_summed", "Affine.backward stores db = dout, not summed over the batch",
            _edit("affine_layer", ("self.db = dout.sum(axis=0)", "self.db = dout")),
            list(AFFINE) + NET_ALL_BUT_FORWARD),
    Mistake("affine_db_mean", "Affine.backward averages dout over the batch instead of summing it",
            _edit("affine_layer", ("self.db = dout.sum(axis=0)", "self.db = dout.mean(axis=0)")),
            list(AFFINE) + [NET_GRADIENT]),
    Mistake("affine_dx_not_reshaped", "Affine.backward returns dx flattened, not in the input's shape",
            _edit("affine_layer", ("        dx = dx.reshape(self.original_x_shape)\n", "")), ["test_affine_any_shape"]),
    Mistake("affine_no_flatten", "Affine.forward multiplies x as given, without flattening each sample",
            _edit("affine_layer", ("self.x = x.reshape(x.shape[0], -1)", "self.x = x")), ["test_affine_any_shape"]),
    Mistake("affine_copies_params", "Affine keeps copies of W and b, so in-place updates never reach it",
            _edit("affine_layer", ("self.W = W\n        self.b = b", "self.W = W.copy()\n        self.b = b.copy()")),
            ["test_affine_any_shape", "test_two_layer_net_forward", NET_GRADIENT]),
    # softmax, cross-entropy, SoftmaxWithLoss
    Mistake("softmax_no_max", "softmax exponentiates the logits without subtracting the row maximum",
            _edit("softmax_functions", ("shifted = x - x.max(axis=1, keepdims=True)", "shifted = x")),
            ["test_softmax_functions", SOFTMAX_FUNCTIONS, "test_softmax_with_loss_extreme"]),
    Mistake("softmax_in_place", "softmax subtracts the row maximum from its input array in place",
            _edit("softmax_functions", ("shifted = x - x.max(axis=1, keepdims=True)",
                                        "x -= x.max(axis=1, keepdims=True)\n    shifted = x")),
            [SOFTMAX_FUNCTIONS, "test_softmax_with_loss_random"]),
    Mistake("cross_entropy_no_epsilon", "cross_entropy_error takes the log without the 1e-7",
            _edit("softmax_functions", ("+ 1e-7).sum()", ").sum()")),
            ["test_softmax_functions", SOFTMAX_FUNCTIONS, "test_softmax_with_loss_extreme"]),
    Mistake("cross_entropy_sum", "cross_entropy_error returns the sum over the batch instead of the mean",
            _edit("softmax_functions", (".sum() / n)", ".sum())")),
            ["test_softmax_functions", SOFTMAX_FUNCTIONS, "test_softmax_with_loss_random",
             "test_softmax_with_loss_extreme", "test_two_layer_net_shapes", "test_two_layer_net_forward"]),
    Mistake("softmax_loss_no_batch_division", "SoftmaxWithLoss.backward returns y - t without dividing by N",
            _edit("softmax_with_loss_layer", ("dx = dout * dx / batch_size", "dx = dout * dx")),
            ["test_softmax_with_loss_random", "test_softmax_with_loss_extreme", NET_GRADIENT]),
    Mistake("softmax_loss_sign_flipped", "SoftmaxWithLoss.backward returns t - y",
            _edit("softmax_with_loss_layer", ("dx = dout * dx / batch_size", "dx = -dout * dx / batch_size")),
            ["test_softmax_with_loss_lecture", "test_softmax_with_loss_random", "test_softmax_with_loss_extreme",
             NET_GRADIENT]),
    Mistake("softmax_loss_indices_as_one_hot", "SoftmaxWithLoss.backward subtracts class-index labels as if one-hot",
            _edit("softmax_with_loss_layer", ("if self.t.size == self.y.size:", "if True:")),
            ["test_softmax_with_loss_lecture", "test_softmax_with_loss_random", "test_softmax_with_loss_extreme",
             "test_two_layer_net_shapes", NET_GRADIENT]),
    Mistake("softmax_loss_difference_quotient", "SoftmaxWithLoss.backward is a numerical gradient of the loss",
            _edit("softmax_with_loss_layer", ("        self.t = t\n", "        self.t = t\n        self.x = x.copy()\n"),
                  ("""        batch_size = self.y.shape[0]
        if self.t.size == self.y.size:           # one-hot labels
            dx = self.y - self.t
        else:                                    # class indices: subtract 1 at each row's label
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
        dx = dout * dx / batch_size
""", """        x = self.x.copy()
        dx = dout * numerical_gradient(lambda v: cross_entropy_error(softmax(v), self.t), x)
""")), ["test_softmax_with_loss_lecture", "test_softmax_with_loss_random", "test_softmax_with_loss_extreme",
               "test_two_layer_net_backprop"]),
    # TwoLayerNet
    Mistake("net_not_reversed", "TwoLayerNet.gradient calls the layers' backward in forward order",
            _edit("two_layer_net", ("for layer in reversed(self.layers.values()):", "for layer in self.layers.values():")),
            ["test_two_layer_net_shapes", NET_GRADIENT, "test_two_layer_net_backprop"]),
    Mistake("net_gradient_is_numerical", "TwoLayerNet.gradient returns the numerical gradient in disguise",
            _edit("two_layer_net", (BACKPROP_BODY, "        return self.numerical_gradient(x, t)\n")),
            ["test_two_layer_net_backprop"]),
    Mistake("net_without_relu", "TwoLayerNet has no Relu1 layer between the Affine layers",
            _edit("two_layer_net", ('        self.layers["Relu1"] = Relu()\n', "")),
            ["test_two_layer_net_shapes", "test_two_layer_net_forward", NET_GRADIENT, "test_two_layer_net_backprop"]),
    Mistake("net_predict_softmax", "TwoLayerNet.predict returns probabilities (softmax) instead of scores",
            _edit("two_layer_net", ("            x = layer.forward(x)\n        return x",
                                    "            x = layer.forward(x)\n        return softmax(x)")),
            ["test_two_layer_net_forward", NET_GRADIENT]),
    Mistake("net_accuracy_one_hot", "TwoLayerNet.accuracy compares predictions with one-hot labels directly",
            _edit("two_layer_net", ("labels = t.argmax(axis=1) if t.ndim != 1 else t", "labels = t")),
            ["test_two_layer_net_forward"]),
    Mistake("net_gradient_updates_params", "TwoLayerNet.gradient also takes a training step on the parameters",
            _edit("two_layer_net", ('        return {"W1": first.dW, "b1": first.db, "W2": second.dW, "b2": second.db}\n',
                                    '        grads = {"W1": first.dW, "b1": first.db, "W2": second.dW, "b2": second.db}\n'
                                    '        for key in self.params:\n'
                                    '            self.params[key] -= 0.1 * grads[key]\n'
                                    '        return grads\n')),
            ["test_two_layer_net_backprop"]),
    # gradient_check
    Mistake("gradient_check_self", "gradient_check compares backprop with itself",
            _edit("gradient_check_function", ("numerical = net.numerical_gradient(x, t)",
                                              "numerical = net.gradient(x, t)")),
            ["test_gradient_check"]),
    Mistake("gradient_check_mean_difference", "gradient_check reports the mean absolute difference",
            _edit("gradient_check_function", ("errors[key] = relative_error(numerical[key], backprop[key])",
                                               "errors[key] = np.abs(numerical[key] - backprop[key]).mean()")),
            ["test_gradient_check"]),
    Mistake("gradient_check_silent", "gradient_check returns the errors without printing them",
            _edit("gradient_check_function", ('        print(f"{key}: relative error {errors[key]:.1e}")\n', "")),
            ["test_gradient_check"]),
]
