"""Chapter 9: backpropagation — one forward and backward pass of the spiral network, printed.

The book's code with only its imports changed; runs on the backend that NNFS_GPU_BACKEND names
('auto' when unset: CuPy on a usable GPU, NumPy otherwise). The book's printout is reproduced to
the last digit in the book's precision (``nnfs_gpu.set_backend(name, precision="book")`` before the
layers are made); the default precision differs in the last digits of the softmax outputs and
the bias gradients. On the strict stand-in, ``loss_activation.output[:5]`` is refused (the array
API indexes every axis: ``[:5, ...]``); NumPy and CuPy accept it.
"""

import nnfs

import nnfs_gpu
from nnfs_gpu.book import *  # noqa: F401,F403  (the book's class names, and np)
from nnfs_gpu.datasets import spiral_data

nnfs.init()
print(f"backend: {nnfs_gpu.get_backend().describe()}")

# The spiral data set: 100 samples of each of 3 classes
X, y = spiral_data(samples=100, classes=3)

# Two inputs to three neurons, ReLU, three to three, softmax with cross-entropy
dense1 = Layer_Dense(2, 3)
activation1 = Activation_ReLU()
dense2 = Layer_Dense(3, 3)
loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()

# Forward pass; the combined softmax and loss returns the mean loss
dense1.forward(X)
activation1.forward(dense1.output)
dense2.forward(activation1.output)
loss = loss_activation.forward(dense2.output, y)

# The confidences of the first five samples, and the loss
print(loss_activation.output[:5])
print("loss:", loss)

# Accuracy: how often the most confident class is the label
predictions = np.argmax(loss_activation.output, axis=1)
if len(y.shape) == 2:
    y = np.argmax(y, axis=1)
accuracy = np.mean(predictions == y)
print("acc:", accuracy)

# Backward pass, from the loss down to the first layer
loss_activation.backward(loss_activation.output, y)
dense2.backward(loss_activation.dinputs)
activation1.backward(dense2.dinputs)
dense1.backward(activation1.dinputs)

# The gradients of every parameter
print(dense1.dweights)
print(dense1.dbiases)
print(dense2.dweights)
print(dense2.dbiases)
