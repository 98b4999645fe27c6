import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planRtes } from '../../src/catalogue/rte-plan.js';
import { guestRteList, jobRteSetup } from '../../src/context/rte-layout.js';
import type { RteResolution } from '../../src/catalogue/resolve-request.js';

const resolution: RteResolution = {
  requested: ['APPS/X-1'],
  base: 'Debian-12',
  vm: 'VMLinux/Debian-12',
  template: 'debian',
  packages: [
    { kind: 'command', name: 'ENV/PYTHON3', command: 'python3', neededBy: 'APPS/X-1' },
    {
      kind: 'tar',
      name: 'ENV/JRE-1',
      instance: 'c#jre',
      urls: ['http://127.0.0.1/jre.tar', 'http://127.0.0.1/mirror/jre.tar'],
      environ: ['JAVA_HOME=%BASEDIR%', 'CACHE=%CACHEDIR%/jre'],
      neededBy: 'APPS/X-1',
    },
    { kind: 'image', name: 'DATA/REF-1', instance: 'c#ref', urls: ['http://127.0.0.1/ref.img'], mountpoint: '/data/ref/', neededBy: 'APPS/X-1' },
    { kind: 'image', name: 'DATA/OTHER-1', instance: 'c#other', urls: ['http://127.0.0.1/other.img'], mountpoint: undefined, neededBy: 'APPS/X-1' },
    { kind: 'tar', name: 'APPS/X-1', instance: 'c#x', urls: ['http://127.0.0.1/x.tar'], environ: [], neededBy: undefined },
  ],
};

test('packages become cache files, tarballs on the volume in order, images on free virtio targets with serials', () => {
  const plan = planRtes(resolution, { cacheDir: '/c', usedTargets: ['vda', 'vdc', 'hdc'] });
  assert.equal(
    plan.packages.map((p) => [p.name, p.kind, p.url, p.cacheFile.replace(/[0-9a-f]{32}/, 'KEY'), p.disk]),
    [
      ['ENV/JRE-1', 'tar', 'http://127.0.0.1/jre.tar', '/c/images/KEY/image', undefined],
      ['DATA/REF-1', 'image', 'http://127.0.0.1/ref.img', '/c/images/KEY/image', { target: 'vdb', serial: 'vmbatch-rte-1' }],
      ['DATA/OTHER-1', 'image', 'http://127.0.0.1/other.img', '/c/images/KEY/image', { target: 'vdd', serial: 'vmbatch-rte-2' }],
      ['APPS/X-1', 'tar', 'http://127.0.0.1/x.tar', '/c/images/KEY/image', undefined],
    ],
  );
  assert.is(
    guestRteList(plan.guest),
    [
      'command\tENV/PYTHON3\t/opt/vmbatch/rte/ENV/PYTHON3\t\tpython3\t-',
      'tar\tENV/JRE-1\t/opt/vmbatch/rte/ENV/JRE-1\t/opt/vmbatch/rte/ENV/JRE-1/pkg\trte/1.tar\t-',
      'image\tDATA/REF-1\t/opt/vmbatch/rte/DATA/REF-1\t/data/ref/data\tvmbatch-rte-1\t/data/ref',
      'image\tDATA/OTHER-1\t/opt/vmbatch/rte/DATA/OTHER-1\t/opt/vmbatch/rte/DATA/OTHER-1/image/data\tvmbatch-rte-2\t/opt/vmbatch/rte/DATA/OTHER-1/image',
      'tar\tAPPS/X-1\t/opt/vmbatch/rte/APPS/X-1\t/opt/vmbatch/rte/APPS/X-1/pkg\trte/2.tar\t-',
    ].join('\n'),
  );
  assert.equal(jobRteSetup(plan.guest), {
    exports: ['JAVA_HOME=/opt/vmbatch/rte/ENV/JRE-1/pkg', 'CACHE=/var/cache/vmbatch/rte/jre'],
    runtimes: [
      '/opt/vmbatch/rte/ENV/JRE-1/control/runtime',
      '/opt/vmbatch/rte/DATA/REF-1/control/runtime',
      '/opt/vmbatch/rte/DATA/OTHER-1/control/runtime',
      '/opt/vmbatch/rte/APPS/X-1/control/runtime',
    ],
  });
});

test.run();
