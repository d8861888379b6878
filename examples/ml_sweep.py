"""Compare model families with nested hyperparameters on data sets shipped with scikit-learn.

    pip install -e ".[examples]"                  # scikit-learn, matplotlib, pandas
    python examples/ml_sweep.py -c ml             # 84 combinations, a few seconds
    python examples/ml_sweep.py -c ml --quick     # 6 combinations (what the tests run)
    sweepstack results ml --columns model C kernel accuracy f1
    sweepstack report ml                          # ml/reports/report.html

Stages: load -> split -> train -> evaluate. ``load`` depends on the data set only and
``split`` on the data set and the seed, so the 84 combinations load each data set
once and split it once per seed. Metrics are fields (they appear in results); a
final aggregate stage compares the models in a table and a plot, once every
combination is done (with ``--workers N``, the last worker to finish makes it).
"""

from __future__ import annotations

from sweepstack import Engine, aggregate, stage, sweep

DATASETS = ("breast_cancer", "wine")


@stage(outputs=["data"], params=["dataset"])
def load(record):
    from sklearn import datasets

    loader = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}
    features, target = loader[record.params["dataset"]](return_X_y=True)
    return ((features, target),)  # one output: a tuple value comes wrapped, as in curifactory


@stage(inputs=["data"], outputs=["split"], params=["seed", "test_size"])
def split(record, data):
    from sklearn.model_selection import train_test_split

    features, target = data
    return train_test_split(
        features, target, test_size=record.config["test_size"], random_state=record.params["seed"], stratify=target
    )


@stage(inputs=["split"], outputs=["model"], params=["model", "C", "kernel", "n_estimators", "max_depth", "seed"])
def train(record, split):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    p = record.params
    family = p["model"]
    if family == "logreg":
        model = make_pipeline(StandardScaler(), LogisticRegression(C=p["C"], max_iter=2000))
    elif family == "svm":
        model = make_pipeline(StandardScaler(), SVC(C=p["C"], kernel=p["kernel"]))
    else:
        model = RandomForestClassifier(
            n_estimators=p["n_estimators"], max_depth=p["max_depth"], random_state=p["seed"]
        )
    x_train, _, y_train, _ = split
    return model.fit(x_train, y_train)


@stage(inputs=["split", "model"], outputs=["metrics"], params=[])
def evaluate(record, split, model):
    from sklearn.metrics import accuracy_score, f1_score

    _, x_test, _, y_test = split
    predicted = model.predict(x_test)
    metrics = {
        "accuracy": float(accuracy_score(y_test, predicted)),
        "f1": float(f1_score(y_test, predicted, average="macro")),
    }
    record.fields.update(metrics)  # persisted: columns of the results table
    return metrics


@aggregate(inputs=["metrics"], outputs=["table"], params=[])
def compare(record, records, metrics):
    """Mean accuracy of each model configuration over seeds, per data set; a plot of it."""
    groups: dict[tuple[str, str], list[float]] = {}
    for member, values in metrics.items():
        p = member.params
        config = ", ".join(f"{k}={p[k]}" for k in ("C", "kernel", "n_estimators", "max_depth") if k in p)
        groups.setdefault((p["dataset"], f"{p['model']} ({config})"), []).append(values["accuracy"])
    table = sorted(
        ({"dataset": d, "model": m, "accuracy": sum(v) / len(v), "seeds": len(v)} for (d, m), v in groups.items()),
        key=lambda row: (row["dataset"], -row["accuracy"]),
    )
    record.fields["best"] = {d: next(r["model"] for r in table if r["dataset"] == d) for d in {r["dataset"] for r in table}}
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return table
    datasets = sorted({row["dataset"] for row in table})
    figure, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4), squeeze=False)
    for axis, dataset in zip(axes[0], datasets):
        rows = [r for r in table if r["dataset"] == dataset]
        axis.barh([r["model"] for r in rows], [r["accuracy"] for r in rows])
        axis.set_xlim(min(r["accuracy"] for r in rows) - 0.05, 1.0)
        axis.set_title(dataset)
        axis.set_xlabel("mean test accuracy")
    figure.tight_layout()
    record.report(figure, name="model comparison")
    plt.close(figure)
    return table


class MLSweep(Engine):
    def init(self):
        self.args_parser.add_argument("--quick", action="store_true", help="a small sweep (for tests)")
        self.args_parser.add_argument("--test-size", type=float, default=0.3)

    def run(self):
        if self.args.quick:
            space = {
                "dataset": ["wine"],
                "seed": [0],
                "model": {"logreg": {"C": [0.1, 1.0]}, "svm": {"C": [1.0], "kernel": ["rbf", "linear"]},
                          "forest": {"n_estimators": [10], "max_depth": [3, None]}},
            }
        else:
            space = {
                "dataset": list(DATASETS),
                "seed": [0, 1, 2],
                "model": {
                    "logreg": {"C": [0.01, 0.1, 1.0, 10.0]},
                    "svm": {"C": [0.1, 1.0, 10.0], "kernel": ["rbf", "linear"]},
                    "forest": {"n_estimators": [10, 50], "max_depth": [3, None]},
                },
            }
        sweeper = self.sweeper(sweep(space))
        for record in self.records(sweeper):
            evaluate(train(split(load(record))))
        if self.args.dry or not self.finished(sweeper):
            return  # another worker is still busy: the last one to finish compares
        summary = compare(self.aggregate_record("comparison"), self.done_records(sweeper))
        for row in summary.state["table"]:
            self.logger.info("%-14s %-42s accuracy %.3f", row["dataset"], row["model"], row["accuracy"])


if __name__ == "__main__":
    MLSweep().start()
