"""scikit-learn's estimator checks, and the habits they do not cover: pipelines, grid search,
pickles, any class labels, seeds that leave the global RNG alone."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import nnfs_gpu

pytest.importorskip("sklearn", reason="scikit-learn is an optional extra (pip install 'nnfs_gpu[sklearn]'); CI installs it")

from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from nnfs_gpu.datasets import spiral_data  # noqa: E402
from nnfs_gpu.sklearn import NNFSClassifier, NNFSRegressor  # noqa: E402


@pytest.fixture(autouse=True)
def on_numpy():
    with nnfs_gpu.use_backend("numpy"):
        yield


@parametrize_with_checks([NNFSClassifier(), NNFSRegressor()])
def test_scikit_learns_estimator_checks(estimator, check):
    check(estimator)


def blobs():
    X, y = make_blobs(n_samples=300, centers=3, random_state=0)
    return X, np.array(["setosa", "versicolor", "virginica"])[y]


def test_a_pipeline_and_a_grid_search_with_text_labels():
    X, y = blobs()
    search = GridSearchCV(make_pipeline(StandardScaler(), NNFSClassifier(random_state=0)),
                          {"nnfsclassifier__learning_rate": [0.01, 0.05]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.9
    assert set(search.predict(X)) <= {"setosa", "versicolor", "virginica"}
    probabilities = search.predict_proba(X)
    assert probabilities.shape == (300, 3) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)


def test_a_fitted_estimator_pickles_through_nnfs_gpus_file_format():
    X, y = blobs()
    classifier = NNFSClassifier(random_state=1).fit(X, y)
    restored = pickle.loads(pickle.dumps(classifier))
    np.testing.assert_array_equal(restored.predict_proba(X), classifier.predict_proba(X))
    assert restored.get_params() == classifier.get_params()


def test_random_state_reproduces_a_fit_and_leaves_the_global_rng_as_it_was():
    X, y = blobs()
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = NNFSClassifier(random_state=7, batch_size=32).fit(X, y).predict_proba(X)
    second = NNFSClassifier(random_state=7, batch_size=32).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_the_regressor_fits_the_books_sine_and_several_targets():
    from nnfs_gpu.datasets import sine_data

    X, y = sine_data(500)
    regressor = NNFSRegressor(hidden_layer_sizes=(64, 64), learning_rate=0.005, epochs=1000, random_state=0)
    assert regressor.fit(X, y.ravel()).score(X, y.ravel()) > 0.95
    assert regressor.predict(X).shape == (500,)
    both = NNFSRegressor(random_state=0).fit(X, np.c_[y, -y])
    assert both.predict(X).shape == (500, 2)


def test_one_hidden_layer_may_be_given_as_a_number():
    """As scikit-learn's own MLPs take ``hidden_layer_sizes=8``."""
    X, y = spiral_data(20, 2)
    classifier = NNFSClassifier(hidden_layer_sizes=8, epochs=2, random_state=0).fit(X, y)
    assert [repr(layer) for layer in classifier.model_.layers[::2]] == ["Dense(2, 8)", "Dense(8, 2)"]

