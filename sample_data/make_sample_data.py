"""Regenerate the synthetic sample data and models bundled with auditor.

Run ``python sample_data/make_sample_data.py`` (from any directory: every file is
written next to this script). Each dataset draws from its own fixed seed with
``numpy.random.default_rng``, so the CSVs are byte-identical on every run.

Three datasets, each with a train/test pair of CSVs and a fitted scikit-learn
Pipeline saved with ``skops.io.dump``:

loans (binary classification, target ``default``)
    Applications dated 2023-01-01..2024-06-30 (train) and 2024-07-01..2024-12-31
    (test); ``application_id`` increases with the date. Income is lognormal and
    rises with age and employment; loan amounts depend on purpose and income and
    grow about 4% a year. ``default`` is drawn from a logistic model of credit
    score, debt-to-income, loan-to-income, term, previous defaults, employment,
    purpose, home ownership and region. One pocket follows a different pattern:
    small-business loans to applicants with under 3 years of employment default
    far more often, driven by loan-to-income alone rather than credit score.
    ``sex`` never enters the default model; it reaches it only through a modest
    income gap. ``employment_years`` is missing completely at random (~4%).

housing (regression, target ``price``)
    Log price is linear in log floor area, neighbourhood, distance to the centre,
    condition, building age and log lot size, plus Gaussian noise, so prices have
    a right tail. ``lot_size`` is missing completely at random (~8%).

tickets (multiclass, target ``priority``)
    An ordered-logit model: a latent urgency built from plan, channel, product,
    message length, attachments and tenure plus logistic noise is cut into
    'low' / 'medium' / 'high' at thresholds giving roughly 55 / 30 / 15 percent.
    ``hours_since_last_contact`` carries no signal.

Rows within a dataset are independent draws; train and test come from the same
process (for loans, the same process at a later time).
"""

from pathlib import Path
from zipfile import ZIP_DEFLATED

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

OUT = Path(__file__).resolve().parent


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _draw(rng, levels, n):
    """Draw ``n`` labels from ``{label: (share, *params)}``.

    Returns the labels followed by one array per parameter, aligned with the labels.
    """
    share, *params = (np.array(v) for v in zip(*levels.values(), strict=True))
    k = rng.choice(len(levels), size=n, p=share)
    return np.array(list(levels))[k], *(p[k] for p in params)


def _dates(rng, start, end, n):
    """``n`` sorted uniform random dates in [start, end]."""
    start, end = np.datetime64(start), np.datetime64(end)
    offsets = rng.integers(0, (end - start).astype(int) + 1, size=n)
    return np.sort(start + offsets)


def make_loans(n_train=4000, n_test=1500, seed=20240101):
    rng = np.random.default_rng(seed)
    date = np.concatenate(
        [
            _dates(rng, "2023-01-01", "2024-06-30", n_train),
            _dates(rng, "2024-07-01", "2024-12-31", n_test),
        ]
    )
    n = n_train + n_test
    years = (date - np.datetime64("2023-01-01")).astype(int) / 365.25

    age = np.clip(np.round(rng.normal(41, 12, n)), 18, 80).astype(int)
    sex = rng.choice(["female", "male"], size=n, p=[0.48, 0.52])
    employment = np.round(np.minimum(age - 18, rng.gamma(1.6, 3.5, n)), 1)
    a = age - 40
    log_income = (
        10.75
        + 0.012 * a
        - 0.0004 * a**2
        + 0.025 * np.minimum(employment, 15)
        - 0.07 * (sex == "female")
        + rng.normal(0, 0.5, n)
    )
    income = np.round(np.exp(log_income), -2).astype(int)

    # Home ownership: multinomial logit (rent is the reference), mortgage and own grow with age.
    older = np.clip(age - 25, 0, None)
    logits = np.column_stack(
        [
            np.zeros(n),
            -1.6 + 0.06 * older + 0.8 * np.log(income / 50_000),
            -3.2 + 0.08 * older,
            np.full(n, -3.6),
        ]
    )
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    choice = (probs.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    home = np.array(["rent", "mortgage", "own", "other"])[choice]

    purposes = {  # purpose: (share, typical amount, effect on the default logit)
        "debt_consolidation": (0.35, 14_000, 0.10),
        "credit_card": (0.20, 9_000, 0.00),
        "home_improvement": (0.11, 16_000, -0.20),
        "car": (0.10, 18_000, -0.30),
        "medical": (0.06, 6_000, 0.25),
        "small_business": (0.09, 22_000, 0.45),
        "education": (0.05, 10_000, 0.15),
        "other": (0.04, 7_000, 0.10),
    }
    purpose, typical_amount, purpose_effect = _draw(rng, purposes, n)
    growth = 1 + 0.04 * years
    loan = typical_amount * np.sqrt(income / 50_000) * rng.lognormal(0, 0.45, n) * growth
    loan = np.clip(np.round(loan, -2), 1_000, 50_000).astype(int)
    term = np.where(rng.random(n) < _sigmoid(-1.2 + np.log(loan / 12_000)), 60, 36)

    regions = {
        "north": (0.27, -0.10),
        "south": (0.23, 0.15),
        "east": (0.26, 0.0),
        "west": (0.24, -0.05),
    }
    region, region_effect = _draw(rng, regions, n)

    previous_defaults = rng.poisson(0.12, n)
    credit_score = np.clip(
        np.round(
            680
            + 1.2 * a
            + 25 * np.log(income / 50_000)
            - 55 * previous_defaults
            + rng.normal(0, 55, n)
        ),
        300,
        850,
    ).astype(int)
    dti = np.round(rng.beta(2, 8, n) * 0.8, 3)
    n_accounts = rng.poisson(2 + 8 * dti + 0.03 * (age - 18))

    loan_to_income = loan / income
    logit = (
        -2.3
        - 0.016 * (credit_score - 680)
        + 4.0 * (dti - 0.16)
        + 0.7 * np.log(loan_to_income / 0.25)
        + 0.4 * (term == 60)
        + 0.55 * previous_defaults
        - 0.05 * np.minimum(employment, 10)
        + purpose_effect
        + region_effect
        + np.select([home == "rent", home == "own"], [0.15, -0.10], 0.0)
    )
    pocket = (purpose == "small_business") & (employment < 3)
    logit[pocket] = -0.9 + 1.3 * np.log(loan_to_income[pocket] / 0.25)
    default = (rng.random(n) < _sigmoid(logit)).astype(int)

    employment[rng.random(n) < 0.04] = np.nan

    df = pd.DataFrame(
        {
            "application_id": np.arange(100_001, 100_001 + n),
            "application_date": np.datetime_as_string(date, unit="D"),
            "age": age,
            "sex": sex,
            "income": income,
            "loan_amount": loan,
            "term_months": term,
            "employment_years": employment,
            "home_ownership": home,
            "purpose": purpose,
            "region": region,
            "credit_score": credit_score,
            "debt_to_income": dti,
            "n_open_accounts": n_accounts,
            "previous_defaults": previous_defaults,
            "default": default,
        }
    )
    return df.iloc[:n_train], df.iloc[n_train:]


def make_housing(n_train=2000, n_test=800, seed=20240202):
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    neighborhoods = {  # name: (share, typical km to the centre, effect on log price)
        "old_town": (0.12, 1.5, 0.30),
        "riverside": (0.15, 3.5, 0.25),
        "university": (0.18, 4.0, 0.05),
        "hillside": (0.15, 8.0, 0.15),
        "suburbs": (0.30, 11.0, -0.05),
        "industrial": (0.10, 6.0, -0.30),
    }
    neighborhood, typical_km, neighborhood_effect = _draw(rng, neighborhoods, n)
    distance = np.round(typical_km * rng.lognormal(0, 0.35, n), 2)

    suburban = np.isin(neighborhood, ["suburbs", "hillside"])
    area = np.clip(np.round(rng.lognormal(np.log(85) + 0.25 * suburban, 0.35), 1), 25, 400)
    rooms = np.clip(np.round(area / 28 + rng.normal(0, 0.7, n)), 1, 10).astype(int)
    age = np.round(rng.gamma(2, 15, n) + 40 * (neighborhood == "old_town")).astype(int)
    conditions = np.array(["poor", "fair", "good", "excellent"])
    condition_level = np.digitize(-0.02 * age + rng.logistic(0, 0.6, n), [-2.2, -1.1, 0.25])
    condition = conditions[condition_level]
    lot_size = np.round(area * rng.lognormal(np.log(2.0) + 0.6 * suburban, 0.4))

    log_price = (
        7.9
        + 0.95 * np.log(area)
        + neighborhood_effect
        - 0.025 * distance
        + np.array([-0.25, -0.10, 0.0, 0.12])[condition_level]
        - 0.002 * age
        + 0.08 * np.log(lot_size / 200)
        + rng.normal(0, 0.15, n)
    )
    price = np.round(np.exp(log_price), -2)
    lot_size[rng.random(n) < 0.08] = np.nan

    df = pd.DataFrame(
        {
            "listing_id": np.arange(500_001, 500_001 + n),
            "area_m2": area,
            "rooms": rooms,
            "age_years": age,
            "distance_center_km": distance,
            "lot_size": lot_size,
            "neighborhood": neighborhood,
            "condition": condition,
            "price": price,
        }
    )
    return df.iloc[:n_train], df.iloc[n_train:]


def make_tickets(n_train=2000, n_test=800, seed=20240303):
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    # level: (share, effect on urgency)
    channels = {"email": (0.5, 0.0), "chat": (0.3, 0.3), "phone": (0.2, 0.8)}
    products = {
        "billing": (0.25, 0.3),
        "mobile_app": (0.25, 0.0),
        "web_portal": (0.22, -0.1),
        "api": (0.16, 0.6),
        "integrations": (0.12, 0.4),
    }
    plans = {"free": (0.55, 0.0), "pro": (0.33, 0.6), "enterprise": (0.12, 1.3)}
    channel, channel_effect = _draw(rng, channels, n)
    product, product_effect = _draw(rng, products, n)
    plan, plan_effect = _draw(rng, plans, n)
    message_length = np.round(rng.lognormal(np.log(350), 0.7, n)).astype(int)
    n_attachments = rng.poisson(0.5 + 0.3 * (channel == "email"))
    tenure = np.round(rng.gamma(1.5, 14, n)).astype(int)
    hours = np.round(rng.exponential(60, n), 1)

    urgency = (
        channel_effect
        + product_effect
        + plan_effect
        + 0.5 * np.log(message_length / 350)
        + 0.35 * n_attachments
        + 0.005 * tenure
        + rng.logistic(0, 0.45, n)
    )
    priority = np.array(["low", "medium", "high"])[np.digitize(urgency, [1.25, 2.25])]

    df = pd.DataFrame(
        {
            "ticket_id": np.arange(900_001, 900_001 + n),
            "message_length": message_length,
            "n_attachments": n_attachments,
            "customer_tenure_months": tenure,
            "hours_since_last_contact": hours,
            "channel": channel,
            "product": product,
            "plan": plan,
            "priority": priority,
        }
    )
    return df.iloc[:n_train], df.iloc[n_train:]


def _one_hot():
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


def loan_model(numeric, categorical):
    # HistGradientBoosting handles the missing employment_years natively.
    prep = ColumnTransformer([("num", "passthrough", numeric), ("cat", _one_hot(), categorical)])
    clf = HistGradientBoostingClassifier(
        max_iter=150,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=30,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=0,
    )
    return Pipeline([("prep", prep), ("clf", clf)])


def linear_model(numeric, categorical, estimator):
    numeric_steps = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    prep = ColumnTransformer([("num", numeric_steps, numeric), ("cat", _one_hot(), categorical)])
    return Pipeline([("prep", prep), ("model", estimator)])


def roc_auc(model, X, y):
    return roc_auc_score(y, model.predict_proba(X)[:, 1])


def r2(model, X, y):
    return r2_score(y, model.predict(X))


def accuracy(model, X, y):
    return accuracy_score(y, model.predict(X))


def build(name, model_file, frames, target, non_features, categorical, make_model, metric):
    """Write the CSVs, fit and save the model, reload it and score the test set."""
    for split, df in zip(("train", "test"), frames, strict=True):
        df.to_csv(OUT / f"{name}_{split}.csv", index=False, lineterminator="\n")
    # Fit on the CSVs as read back, so the model sees exactly the dtypes a user will.
    train, test = (pd.read_csv(OUT / f"{name}_{split}.csv") for split in ("train", "test"))
    features = [c for c in train.columns if c not in {*non_features, target}]
    numeric = [c for c in features if c not in categorical]
    model = make_model(numeric, categorical).fit(train[features], train[target])

    path = OUT / model_file
    sio.dump(model, path, compression=ZIP_DEFLATED)
    untrusted = sio.get_untrusted_types(file=path)
    loaded = sio.load(path, trusted=untrusted)
    score = metric(loaded, test[features], test[target])
    print(f"{path.name}: holdout {metric.__name__} = {score:.3f}")
    print(f"  untrusted types: {untrusted}")


def main():
    build(
        "loans",
        "loan_model.skops",
        make_loans(),
        target="default",
        non_features=["application_id", "application_date", "sex"],
        categorical=["home_ownership", "purpose", "region"],
        make_model=loan_model,
        metric=roc_auc,
    )
    build(
        "housing",
        "housing_model.skops",
        make_housing(),
        target="price",
        non_features=["listing_id"],
        categorical=["neighborhood", "condition"],
        make_model=lambda num, cat: linear_model(num, cat, Ridge(alpha=1.0)),
        metric=r2,
    )
    build(
        "tickets",
        "tickets_model.skops",
        make_tickets(),
        target="priority",
        non_features=["ticket_id"],
        categorical=["channel", "product", "plan"],
        make_model=lambda num, cat: linear_model(num, cat, LogisticRegression(max_iter=1000)),
        metric=accuracy,
    )


if __name__ == "__main__":
    main()
