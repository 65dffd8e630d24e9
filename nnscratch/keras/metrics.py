"""``tf.keras.metrics``: ``Metric`` (to subclass), ``Mean``, ``Sum``, the accuracies, the regression
errors, ``Precision`` and ``Recall`` (``nnscratch/metrics.py``), and the per-sample metric functions."""
from ..elementwise_losses import binary_crossentropy, mean_absolute_error, mean_squared_error
from ..metrics import (Accuracy, BinaryAccuracy, CategoricalAccuracy, Mean, MeanAbsoluteError,
                       MeanMetricWrapper, MeanSquaredError, Metric, Precision, Recall, RootMeanSquaredError,
                       SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy, Sum, TopKCategoricalAccuracy,
                       BinaryCrossentropy,
                       accuracy, binary_accuracy, categorical_accuracy, get, sparse_categorical_accuracy,
                       sparse_top_k_categorical_accuracy, top_k_categorical_accuracy)
from ._missing import missing_attribute

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
           "MeanSquaredError", "MeanAbsoluteError", "RootMeanSquaredError", "Precision", "Recall", "get",
           "BinaryCrossentropy",
           "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mean_squared_error",
           "mean_absolute_error", "binary_crossentropy"]
__getattr__ = missing_attribute("tf.keras.metrics", __all__)
