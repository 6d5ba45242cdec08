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
    assert set(result.parts) == {"rating", "ratings", "late", "denials", "complaints", "no_shows", "visits",
                                 "no_show_count"}
    assert result.parts["complaints"] == -1.0  # at most four complaints count


def test_no_shows_are_counted_and_take_something_off_like_lateness():
    clean = quality_score(QualityInputs(ratings_sum=200, ratings=50, visits=50))
    worse = quality_score(QualityInputs(ratings_sum=200, ratings=50, visits=50, no_shows=5))
    assert worse.score < clean.score
    assert worse.parts["no_show_count"] == 5
    assert worse.parts["no_shows"] == round(-2.0 * 5 / 55, 3)


def test_a_provider_whose_only_jobs_were_no_shows_loses_two_stars():
    result = quality_score(QualityInputs(no_shows=3))
    assert result.score == 2.5 and result.parts["no_shows"] == -2.0
