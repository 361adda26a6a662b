"""core/repetition.py against the plain Python scans it replaced (kept here as the reference)."""

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from corpusmill.core.repetition import NgramRepeats, duplicate_ngram_chars, top_ngram_chars, word_ids


def reference_top(words: tuple[str, ...], n: int) -> int:
    """The implementation before issue 14: datatrove's find_top_duplicate over tuples."""
    if len(words) < n:
        return 0
    counts = Counter(zip(*(words[i:] for i in range(n)), strict=False))
    gram, count = counts.most_common(1)[0]
    return (sum(map(len, gram)) + n - 1) * count


def reference_duplicate(words: tuple[str, ...], n: int) -> int:
    """The implementation before issue 14: datatrove's find_all_duplicate keyed by tuples."""
    seen: set[tuple[str, ...]] = set()
    repeated, i, last = 0, 0, len(words) - n + 1
    while i < last:
        gram = words[i : i + n]
        if gram in seen:
            repeated += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated


@st.composite
def repetitive_words(draw) -> tuple[str, ...]:
    """Word sequences from a small vocabulary, with stretches copied from earlier in the sequence."""
    vocab = draw(st.lists(st.text(alphabet="ab.é", max_size=4), min_size=1, max_size=8))
    size = draw(st.integers(0, 120))
    words: list[str] = []
    while len(words) < size:
        if words and draw(st.booleans()):
            start = draw(st.integers(0, len(words) - 1))
            words += words[start : start + draw(st.integers(1, 14))]
        else:
            words.append(draw(st.sampled_from(vocab)))
    return tuple(words[:size])


@settings(max_examples=400, deadline=None)
@given(repetitive_words())
def test_top_and_duplicate_chars_equal_the_reference_scans(words):
    repeats = NgramRepeats(words)
    for n in range(1, 13):  # in the order the Gopher rule asks, so levels are reused as there
        assert repeats.top_chars(n) == reference_top(words, n), n
    for n in range(1, 13):
        assert repeats.duplicate_chars(n) == reference_duplicate(words, n), n


@settings(max_examples=200, deadline=None)
@given(repetitive_words(), st.integers(1, 12))
def test_one_shot_functions_equal_the_reference_scans(words, n):
    assert top_ngram_chars(words, n) == reference_top(words, n)
    assert duplicate_ngram_chars(words, n) == reference_duplicate(words, n)


def test_a_jump_hides_the_first_occurrence():
    # At 2 the 2-gram (x, y) repeats and the scan jumps to 4, so (y, z) at 3 is never seen: its
    # repeat at 6 is a first sighting, not a duplicate ("occurred before" would count it).
    words = ("x", "y", "x", "y", "z", "q", "y", "z")
    assert duplicate_ngram_chars(words, 2) == reference_duplicate(words, 2) == 2
    assert duplicate_ngram_chars(("a", "b") * 4, 2) == reference_duplicate(("a", "b") * 4, 2) == 6
    # a tie on the count goes to the n-gram seen first
    assert top_ngram_chars(("bb", "a", "a", "bb"), 1) == reference_top(("bb", "a", "a", "bb"), 1) == 4


def test_word_ids_number_words_by_first_appearance():
    distinct, ids = word_ids(("to", "be", "or", "not", "to", "be"))
    assert distinct == ["to", "be", "or", "not"]
    assert ids.tolist() == [0, 1, 2, 3, 0, 1]
    assert NgramRepeats(()).top_chars(1) == NgramRepeats(()).duplicate_chars(5) == 0
