"""Reading lifeboatd's /metrics: a strict parser of the Prometheus text
format 0.0.4 (what a bug in the renderer would break: names, label
escaping, cumulative buckets, _sum/_count), promtool found where
tools/fetch-promtool puts it, and sums over label subsets.  Used by
tests/flow/test_metrics.py and bench/metrics.
"""

import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
SAMPLE_RE = re.compile(r'(%s)(?:\{(.*)\})? (\S+)$' % NAME)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
CONTENT_TYPE = 'text/plain; version=0.0.4'


def promtool():
    """The promtool binary: $LB_PROMTOOL, PATH, or tools/fetch-promtool's
    cache.  None if none of them has it."""
    env = os.environ.get('LB_PROMTOOL')
    if env:
        return env
    found = shutil.which('promtool')
    if found:
        return found
    cache = os.environ.get('LB_PROMTOOL_DIR') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'),
        'lifeboat', 'promtool')
    p = os.path.join(cache, 'promtool')
    return p if os.access(p, os.X_OK) else None


def promtool_check(text):
    """``promtool check metrics`` on text: (returncode, output)."""
    tool = promtool()
    assert tool is not None, ('promtool not found: run tools/fetch-promtool '
                              '(tools/deps test does)')
    p = subprocess.run([tool, 'check', 'metrics'], input=text,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def _unescape(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == '\\':
            nxt = s[i + 1]
            out.append({'\\': '\\', '"': '"', 'n': '\n'}[nxt])
            i += 2
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def _labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        assert m, 'bad labels at %r' % text[pos:]
        assert m.group(1) not in labels, text
        labels[m.group(1)] = _unescape(m.group(2))
        pos = m.end()
    return labels


class Scrape:
    """One /metrics text, parsed: types[name], help[name] and samples
    [(name, labels, value)]; the parse asserts the format's rules."""

    def __init__(self, text):
        self.text = text
        self.types, self.help, self.samples = {}, {}, []
        for line in text.splitlines():
            if line.startswith('# HELP '):
                name, _, doc = line[7:].partition(' ')
                assert re.fullmatch(NAME, name) and name not in self.help
                self.help[name] = doc
            elif line.startswith('# TYPE '):
                name, kind = line[7:].split(' ')
                assert kind in ('counter', 'gauge', 'histogram'), line
                assert name not in self.types, line
                self.types[name] = kind
            else:
                m = SAMPLE_RE.match(line)
                assert m, 'not a sample line: %r' % line
                value = float(m.group(3))
                self.samples.append((m.group(1), _labels(m.group(2) or ''),
                                     value))
        self._check()

    def _family(self, name):
        for suffix in ('_bucket', '_sum', '_count'):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and \
                    self.types.get(base) == 'histogram':
                return base
        return name

    def _check(self):
        assert set(self.types) == set(self.help)
        for name, kind in self.types.items():
            assert name.startswith('lifeboat_'), name
            assert name.endswith('_total') == (kind == 'counter'), name
        series = {}
        for name, labels, value in self.samples:
            fam = self._family(name)
            assert fam in self.types, name
            if self.types[fam] == 'counter':
                assert value >= 0, (name, labels)
            if self.types[fam] != 'histogram':
                continue
            key = (fam, tuple(sorted((k, v) for k, v in labels.items()
                                     if k != 'le')))
            s = series.setdefault(key, {'buckets': []})
            if name.endswith('_bucket'):
                s['buckets'].append((float(labels['le']), value))
            else:
                s[name[len(fam) + 1:]] = value
        for key, s in series.items():
            les = [le for le, _ in s['buckets']]
            counts = [c for _, c in s['buckets']]
            assert les == sorted(les) and les[-1] == math.inf, key
            assert counts == sorted(counts), key          # cumulative
            assert counts[-1] == s['count'], key
            assert 'sum' in s, key

    def value(self, name, **labels):
        """The sum of the samples of 'name' whose labels include these."""
        return sum(v for n, lab, v in self.samples if n == name and
                   all(lab.get(k) == want for k, want in labels.items()))

    def series(self, name):
        return [(lab, v) for n, lab, v in self.samples if n == name]

    def buckets(self, name, **labels):
        """[(le, cumulative count)] of a histogram, summed over series."""
        acc = {}
        for lab, v in self.series(name + '_bucket'):
            if all(lab.get(k) == want for k, want in labels.items()):
                le = float(lab['le'])
                acc[le] = acc.get(le, 0) + v
        return sorted(acc.items())


def quantile(buckets, q):
    """Prometheus' histogram_quantile over [(le, cumulative)]."""
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if le == math.inf:
                return prev_le
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return prev_le


def scrape(url, timeout=10):
    """GET url (…/metrics); asserts 200 and the content type."""
    r = requests.get(url, timeout=timeout)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert r.headers['Content-Type'].startswith(CONTENT_TYPE), r.headers
    return Scrape(r.text)
