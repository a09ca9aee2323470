"""Four small documented functions (instruction, program) that training tests turn into LintSeq records."""

PROGRAMS = [
    ("Return the largest item.", "def largest(xs):\n    best = xs[0]\n    for x in xs:\n        if x > best:\n"
     "            best = x\n    return best"),
    ("Count the vowels.", "def vowels(text):\n    count = 0\n    for ch in text:\n        if ch in 'aeiou':\n"
     "            count += 1\n    return count"),
    ("Reverse the words.", "def reverse_words(text):\n    words = text.split()\n    words.reverse()\n"
     "    return ' '.join(words)"),
    ("Sum the squares.", "def sum_squares(xs):\n    total = 0\n    for x in xs:\n        total += x * x\n"
     "    return total"),
]  # fmt: skip
