"""scikit-learn estimators around ``Model``: ``NNFSClassifier`` and ``NNFSRegressor``.

    from nnfs_gpu.sklearn import NNFSClassifier       # pip install 'nnfs_gpu[sklearn]'
    search = GridSearchCV(make_pipeline(StandardScaler(), NNFSClassifier()), {"nnfsclassifier__learning_rate": [0.01, 0.05]})

Each ``fit`` builds the book's network (Dense layers with ReLU, then Softmax and categorical
cross-entropy, or Linear and mean squared error) on the current backend (or ``backend``), trains
it and keeps it as ``model_``. ``random_state`` seeds NumPy's global RNG (which draws the book's
initial weights and shuffles) for the fit only and puts the RNG back afterwards. A fitted
estimator pickles through nnfs_gpu's own file format, so it loads on any backend.
"""

from __future__ import annotations

import contextlib
import numbers
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("nnfs_gpu.sklearn needs scikit-learn >= 1.6: pip install 'nnfs_gpu[sklearn]'") from error

from . import SGD, Adam, Model
from .backends import use_backend
from .networks import perceptron

OPTIMIZERS = {"adam": Adam, "sgd": SGD}


class _NNFSEstimator(BaseEstimator):
    def __init__(self, hidden_layer_sizes: int | tuple[int, ...] = (64,), optimizer: str = "adam", learning_rate: float = 0.01,
                 decay: float = 0.0, epochs: int = 200, batch_size: int | None = None, l2: float = 0.0,
                 backend: str | None = None, random_state: int | None = None, verbose: bool = False) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.decay = decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.l2 = l2
        self.backend = backend
        self.random_state = random_state
        self.verbose = verbose

    #: the problem kind (``networks.TASKS``): its output layer, loss and start weights
    _task: str

    def _fit_model(self, X: np.ndarray, targets: np.ndarray, outputs: int) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        sizes = self.hidden_layer_sizes
        hidden = (sizes,) if isinstance(sizes, numbers.Integral) else tuple(sizes)  # 8, as sklearn's MLPs take it
        with self._seeded(), (use_backend(self.backend) if self.backend else contextlib.nullcontext()):
            optimizer = OPTIMIZERS[self.optimizer](learning_rate=self.learning_rate, decay=self.decay)
            model = perceptron(X.shape[1], hidden, outputs, self._task, optimizer, l2=self.l2)
            history = model.train(X, targets, epochs=self.epochs, batch_size=self.batch_size,
                                  shuffle=self.batch_size is not None, verbose=self.verbose)
        self.model_, self.loss_curve_ = model, history["loss"]

    @contextlib.contextmanager
    def _seeded(self) -> Iterator[None]:
        if self.random_state is None:
            yield
            return
        state = np.random.get_state()
        np.random.seed(self.random_state)
        try:
            yield
        finally:
            np.random.set_state(state)

    def _outputs(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        return self.model_.predict(X)

    def __getstate__(self) -> dict[str, Any]:
        """The parameters and the fitted model as nnfs_gpu's file (device-portable, no pickle inside)."""
        state = self.__dict__.copy()
        model = state.pop("model_", None)
        if model is not None:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "model"
                model.save(path)
                state["model_file_"] = path.read_bytes()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        file = state.pop("model_file_", None)
        self.__dict__.update(state)
        if file is not None:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "model"
                path.write_bytes(file)
                self.model_ = Model.load(path)


class NNFSClassifier(ClassifierMixin, _NNFSEstimator):
    """The book's classifier (Softmax and categorical cross-entropy) with scikit-learn's habits:
    any class labels (``classes_``), ``predict_proba``, ``score`` (accuracy)."""

    _task = "classification"

    def fit(self, X: Any, y: Any) -> "NNFSClassifier":
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64])
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"a classifier needs samples of at least 2 classes, got one class: {self.classes_[0]!r}")
        self._fit_model(X, labels.astype(np.int64), len(self.classes_))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Each class's probability per sample, in the order of ``classes_``."""
        return self._outputs(X).astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        outputs = self._outputs(X)
        return self.classes_[np.argmax(outputs, axis=1)]


class NNFSRegressor(RegressorMixin, _NNFSEstimator):
    """The book's regressor (Linear output, mean squared error, chapter 17's larger start weights)."""

    _task = "regression"

    def fit(self, X: Any, y: Any) -> "NNFSRegressor":
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64], y_numeric=True, multi_output=True)
        self._single_output = y.ndim == 1
        targets = y.reshape(-1, 1) if y.ndim == 1 else y
        self._fit_model(X, targets.astype(X.dtype), targets.shape[1])
        return self

    def predict(self, X: Any) -> np.ndarray:
        outputs = self._outputs(X).astype(np.float64)
        return outputs[:, 0] if self._single_output else outputs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # one output neuron per target column
        return tags
