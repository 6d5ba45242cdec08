"""The quality score: a Bayesian rating less lateness, denials and complaints."""

from providers.quality import PRIOR_MEAN, QualityInputs, quality_score


def test_a_provider_nobody_has_rated_scores_the_prior():
    assert quality_score(QualityInputs()).score == PRIOR_MEAN


def test_three_perfect_reviews_do_not_beat_three_hundred_excellent_ones():
    few = quality_score(QualityInputs(ratings_sum=15, ratings=3, visits=3))
    many = quality_score(QualityInputs(ratings_sum=round(4.8 * 300), ratings=300, visits=300))
    assert many.score > few.score


def test_denials_lateness_and_complaints_each_take_something_off():
    base = QualityInputs(ratings_sum=200, ratings=50, visits=50)
    clean = quality_score(base).score
    for worse in (QualityInputs(200, 50, 50, late_visits=10), QualityInputs(200, 50, 50, denials=5),
                  QualityInputs(200, 50, 50, complaints=2)):
        assert quality_score(worse).score < clean


def test_the_score_is_shown_with_its_parts_and_stays_between_0_and_5():
    result = quality_score(QualityInputs(ratings_sum=10, ratings=10, visits=10, denials=10,
                                         complaints=9))
    assert result.score == 0.0
    assert set(result.parts) == {"rating", "ratings", "late", "denials", "complaints", "visits"}
    assert result.parts["complaints"] == -1.0  # at most four complaints count
