"""The scikit-learn pipeline of each model family: missing values filled in with the column's
median, features scaled where the model is sensitive to scale, then the classifier."""

from __future__ import annotations

from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier


def make_model(family: str, value: float, seed: int) -> Pipeline:
    """A fresh, unfitted pipeline of ``family`` with its grid's hyper-parameter set to ``value``."""
    whole = int(value)
    classifier: ClassifierMixin
    scaled = family in ("logistic_regression", "svc", "knn")
    if family == "random_forest":
        classifier = RandomForestClassifier(n_estimators=whole, random_state=seed)
    elif family == "logistic_regression":
        classifier = LogisticRegression(C=value, max_iter=1000)
    elif family == "gradient_boosting":
        classifier = HistGradientBoostingClassifier(learning_rate=value, random_state=seed)
    elif family == "svc":
        classifier = SVC(C=value, random_state=seed)
    elif family == "knn":
        classifier = KNeighborsClassifier(n_neighbors=whole)
    elif family == "decision_tree":
        classifier = DecisionTreeClassifier(max_depth=whole, random_state=seed)
    else:
        raise ValueError(f"family has value {family!r}, which is no model family of this plugin")
    # keep_empty_features: a column empty in one fold's rows stays a (constant) column, so the
    # model's features are the table's in every fold.
    imputer = SimpleImputer(strategy="median", keep_empty_features=True)
    return make_pipeline(imputer, StandardScaler(), classifier) if scaled else make_pipeline(imputer, classifier)
