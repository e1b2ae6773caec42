#!/usr/bin/python3
"""Writes packages/translate/fixtures/sacrebleu-paired-bs.json: sacreBLEU's own paired bootstrap on a small case.

sacreBLEU's `PairedTest(..., test_type='bs')` (sacrebleu/significance.py) is run from a source checkout of
mjpost/sacrebleu (argument 1; its version.py is generated at install time, so a `__version__` stub is made if it
is missing) on four systems of 12 sentences against one reference stream, for BLEU and chrF2 with their defaults.
Only numpy is needed besides: the packages sacreBLEU imports for other features (portalocker, tabulate, lxml) are
stubbed, as the bootstrap never calls them. The file holds the sentences, the resample indices sacreBLEU draws
(numpy's default_rng(12345).choice(n, (1000, n)), the SACREBLEU_SEED default) and, per metric and system, the
score, bootstrap mean, 95 % CI half-width and p-value sacreBLEU reports. bootstrap.test.ts feeds the same indices
to `pairedBootstrap` and expects the same numbers.

  python3 scripts/make-sacrebleu-bootstrap-fixture.py /path/to/sacrebleu > fixtures/sacrebleu-paired-bs.json
"""

import json
import os
import sys
import types

source = sys.argv[1]
if not os.path.exists(os.path.join(source, 'sacrebleu', 'version.py')):
    with open(os.path.join(source, 'sacrebleu', 'version.py'), 'w') as f:
        f.write("__version__ = 'source'\n")
for name in ['portalocker', 'tabulate', 'lxml', 'lxml.etree']:
    stub = types.ModuleType(name)
    stub.tabulate = lambda *args, **kwargs: ''
    sys.modules.setdefault(name, stub)
sys.path.insert(0, source)

import numpy as np  # noqa: E402
from sacrebleu.metrics import BLEU, CHRF  # noqa: E402
from sacrebleu.significance import PairedTest  # noqa: E402

references = [
    'The printer is out of paper.', 'Restart the router and try again.', 'Your password expires in three days.',
    'The update failed to install.', 'Please save your work before closing.', 'The screen stays black after boot.',
    'Click the icon to open the settings.', 'The file could not be found on the server.',
    'Ask your administrator for access.', 'The battery is almost empty.', 'Connect the cable to the monitor.',
    'The application stopped responding.',
]
baseline = [
    'The printer has no paper.', 'Restart router and try again.', 'Your password runs out in three days.',
    'The update did not install.', 'Save your work before you close.', 'The screen is black after booting.',
    'Click on the icon for the settings.', 'The file was not found on the server.', 'Ask the admin for access.',
    'The battery is nearly empty.', 'Connect the cable with the monitor.', 'The app does not respond.',
]
# Better on several sentences; one word off the baseline; far worse.
close = list(baseline)
for i in (0, 1, 4, 7):
    close[i] = references[i]
close[11] = 'The application stopped.'
near = list(baseline)
near[1] = references[1]
near[5] = 'The screen is dark after booting.'
worse = [
    'Printer paper.', 'Router again.', 'Password three days.', 'Update no.', 'Save work.', 'Black screen.',
    'Icon settings.', 'File server.', 'Admin access.', 'Battery empty.', 'Cable monitor.', 'App stop.',
]
systems = [('baseline', baseline), ('close', close), ('near', near), ('worse', worse)]
n = len(references)
indices = np.random.default_rng(12345).choice(n, size=(1000, n), replace=True)
out = {'references': references, 'systems': [h for _, h in systems], 'indices': indices.tolist(), 'results': {}}
for key, metric in [('bleu', BLEU()), ('chrf', CHRF())]:
    _, scores = PairedTest(systems, {key: metric}, [references], test_type='bs', n_samples=1000)()
    name = next(k for k in scores if k != 'System')
    out['results'][key] = [
        {
            'score': float(r.score),
            'mean': float(r.mean),
            'ci': float(r.ci),
            'pValue': None if r.p_value is None else float(r.p_value),
        }
        for r in scores[name]
    ]
json.dump(out, sys.stdout)
sys.stdout.write('\n')
