"""The new-kind check's comparison with recent open tickets: closeness, copies, arrival order, the gate."""

from __future__ import annotations

import numpy as np

from triage.ml.novelty import (
    COPY_SIMILARITY,
    COPY_WORDS,
    NO_RECENT,
    RECENT_WEIGHT,
    closeness_in_arrival_order,
    new_kind_score,
    recent_alike,
    recent_closeness,
    word_set,
)


def _unit(*rows) -> np.ndarray:
    v = np.array(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_closeness_is_the_mean_of_the_most_similar_recent_tickets_leaving_copies_out():
    ticket = _unit([1, 0, 0])
    recent = _unit([1, 0, 0], [1, 0.5, 0], [1, 0, 0.6], [1, 0.5, 0.5], [0, 1, 0])  # a copy, three alike, one not
    sims = (recent @ ticket[0])[1:4]
    assert (recent @ ticket[0])[0] >= COPY_SIMILARITY
    np.testing.assert_allclose(recent_closeness(ticket, recent), [sims.mean()], rtol=1e-6)
    assert recent_closeness(ticket, recent[:3])[0] == NO_RECENT  # a copy and two others: fewer than three
    assert recent_closeness(ticket, None)[0] == NO_RECENT
    assert recent_alike(ticket[0], recent).tolist() == [1, 2, 3]  # the three it averaged, most similar first


def test_in_arrival_order_a_row_sees_only_the_rows_before_it():
    vectors = _unit([1, 0.2, 0], [1, 0, 0.3], [1, 0.3, 0.3], [1, -0.3, 0], [0, 1, 0])
    order = np.array([4, 0, 1, 2, 3])  # row 4 first, row 3 last
    closeness = closeness_in_arrival_order(vectors, order)
    assert closeness[4] == closeness[0] == closeness[1] == NO_RECENT  # fewer than three before them
    np.testing.assert_allclose(closeness[2], recent_closeness(vectors[2:3], vectors[[4, 0, 1]])[0], rtol=1e-6)
    np.testing.assert_allclose(closeness[3], recent_closeness(vectors[3:4], vectors[[4, 0, 1, 2]])[0], rtol=1e-6)


def test_a_lead_of_recent_tickets_counts_only_below_the_gate():
    familiar, top = np.array([0.6, 0.6, 0.9]), np.array([0.5, 0.5, 0.5])
    alone = new_kind_score(familiar, top, 0.25)
    recent = np.array([0.8, 0.5, 0.95])  # a lead of 0.2, none, 0.05
    led = new_kind_score(familiar, top, 0.25, recent, gate=float(alone[1] + 0.01))
    np.testing.assert_allclose(led, [alone[0] - RECENT_WEIGHT * 0.2, alone[1], alone[2]])  # the third: above
    np.testing.assert_array_equal(new_kind_score(familiar, top, 0.25, recent), alone)  # no gate: never led


def test_a_recent_ticket_with_nearly_the_same_words_is_a_copy_however_similar():
    ticket = _unit([1, 0, 0])
    recent = _unit([1, 0.4, 0], [1, 0.5, 0], [1, 0, 0.5], [1, 0.4, 0.4])  # all under COPY_SIMILARITY, all alike
    assert (recent @ ticket[0] < COPY_SIMILARITY).all()
    words = [word_set("My expense report is still not paid out")]
    resend = word_set("hi, my expense report is still not paid out, please help")
    assert len(words[0] & resend) / len(words[0] | resend) >= COPY_WORDS
    others = [word_set(text) for text in ("travel claim pending", "receipt upload fails", "claim rejected")]
    recent_words = [resend, *others]
    sims = recent @ ticket[0]
    np.testing.assert_allclose(recent_closeness(ticket, recent)[0], np.sort(sims)[-3:].mean(), rtol=1e-6)
    left = recent_closeness(ticket, recent, words=words, recent_words=recent_words)[0]
    np.testing.assert_allclose(left, sims[1:].mean(), rtol=1e-6)  # the resend is left out
    assert 0 not in recent_alike(ticket[0], recent, words=words[0], recent_words=recent_words).tolist()
    order = np.arange(5)  # the resend arrives before the three others, the ticket last
    in_order = closeness_in_arrival_order(np.vstack([recent, ticket]), order, words=[*recent_words, *words])
    np.testing.assert_allclose(in_order[4], left, rtol=1e-6)
    assert word_set("VPN down, VPN!") == {"vpn", "down"}
