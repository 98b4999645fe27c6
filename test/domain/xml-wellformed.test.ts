// Template diagnostics as good as xmllint's: every well-formedness problem the parser can recover
// past, each with line and column; a wrong end tag names the element left open and where it
// opened; a misspelt attribute gets "did you mean". Compared with `xmllint --noout` on the same files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseTemplate } from '../../src/domain/parse-template.js';
import { wellFormednessProblems } from '../../src/domain/xml-wellformed.js';
import { formatError } from '../../src/errors/vmbatch-error.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { domainsDir } from '../helpers/paths.js';

// the slides' own snippet: the end tag of <vbpreparemethod> lost its '<'
const slide = `<domain type='xen'>
  <name>sl5</name>
  <memory>524288</memory>
  <vbconfig>
    <vbpreparemethod>CDROM/vbpreparemethod>
    <vbhypervisor>XEN3</vbhypervisor>
    <vbjobpath>/tmp</vbjobpath>
    <vbreadiness/>
  </vbconfig>
  <devices>
    <disk type='file' device='disk'>
      <vbdisksource source='sl5.img' copy_method='download'/>
      <target dev='xvda'/>
    </disk>
  </devices>
</domain>
`;

// several independent problems, each one xmllint reports too
const several = `<domain type='qemu'>
  <name>a&b</name>
  <vbconfig>
    <vbpreparemethod>CDROM</vbpreparemethod>
  </vbconfig>
  <devices>
    <disk type='file' device='disk'>
      <vbdisksource source='x.img' copy method='download'/>
      <target dev='vda' dev='vdb'/>
      <source file='&disk;'/>
    </disk>
  </devices>
</domain>
`;

const malformed = async (text: string) => (await expectVmbatchError(() => parseTemplate(text, 'bad.xml'), 'DOMAIN_XML_MALFORMED')).message;

test("the slides' snippet: the element left open is named with the line it opened on, not just 'unexpected close tag'", async () => {
  const e = await expectVmbatchError(() => parseTemplate(slide, 'sl5.xml'), 'DOMAIN_XML_MALFORMED');
  assert.is(
    formatError(e),
    'vmbatch: DOMAIN_XML_MALFORMED: domain template sl5.xml is not well-formed XML:\n' +
      '  - line 9, column 3: the end tag </vbconfig> does not match the open element <vbpreparemethod> (line 5, column 5), which has no end tag\n' +
      '  hint: fix the XML at each position (`xmllint --noout FILE` shows the same places); `vmbatch validate FILE` checks a template without running a job',
  );
  assert.is(e.kind, 'permanent');
});

test("every problem the parser recovers past is listed, with 'did you mean copy_method' for `copy method=`", async () => {
  assert.is(
    await malformed(several),
    [
      'domain template bad.xml is not well-formed XML:',
      "  - line 2, column 10: '&' starts no entity reference (write &amp; for a literal '&')",
      "  - line 8, column 36: attribute copy of <vbdisksource> has no value (did you mean copy_method='download'?)",
      '  - line 9, column 25: attribute dev is given twice in <target>',
      '  - line 10, column 21: undefined entity &disk; (XML knows &lt; &gt; &amp; &quot; &apos; and character references)',
    ].join('\n'),
  );
});

test('end tags: misspelt, several elements left open, a truncated file, a second document element, a runaway attribute value', async () => {
  assert.is(
    await malformed('<domain>\n  <vbconfig></vbconfg>\n</domain>\n'),
    'domain template bad.xml is not well-formed XML:\n  - line 2, column 13: the end tag </vbconfg> does not match the open element <vbconfig> (line 2, column 3)',
  );
  assert.is(
    await malformed('<domain>\n  <a>\n    <b>\n</domain>\n'),
    'domain template bad.xml is not well-formed XML:\n  - line 4, column 1: the end tag </domain> does not match the open elements <a> (line 2, column 3) and <b> (line 3, column 5), which have no end tag',
  );
  assert.is(
    await malformed('<domain>\n  <a>\n'),
    [
      'domain template bad.xml is not well-formed XML:',
      '  - line 3, column 1: the document ends before the end tag of <a> (opened at line 2, column 3)',
      '  - line 3, column 1: the document ends before the end tag of <domain> (opened at line 1, column 1)',
    ].join('\n'),
  );
  assert.is(await malformed('<domain/>\n<domain/>\n'), 'domain template bad.xml is not well-formed XML:\n  - line 2, column 1: a second document element <domain> (a document has one)');
  assert.is(
    await malformed("<domain>\n  <a b='1<2'/>\n  <c d='x/>\n  <e/>\n</domain>\n"),
    [
      'domain template bad.xml is not well-formed XML:',
      "  - line 2, column 10: '<' inside the start tag of <a>: an attribute value may not hold '<' (write &lt;), or its closing quote is missing",
      "  - line 4, column 3: '<' inside the start tag of <c>: an attribute value may not hold '<' (write &lt;), or its closing quote is missing",
      // the value that lost its quote runs to the end, taking </domain> with it
      '  - line 6, column 1: the document ends before the end tag of <domain> (opened at line 1, column 1)',
    ].join('\n'),
  );
});

test("an unknown attribute close to a known one gets 'did you mean' (method= for copy_method=, sorce= for source=)", async () => {
  const xml = `<domain type='qemu'><name>t</name><memory unit='MiB'>64</memory><vbconfig><vbpreparemethod>CDROM</vbpreparemethod><vbhypervisor>QEMU</vbhypervisor></vbconfig><devices>
<disk device='disk'><vbdisksource source='a.img' method='download'/><target dev='vda'/></disk>
<disk device='cdrom'><vbpreparecdrom sorce='context.iso' colour='red'/><target dev='hdc'/></disk></devices></domain>`;
  const e = await expectVmbatchError(() => parseTemplate(xml, 'typo.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.match(e.message, '  - domain/devices/disk[1]/vbdisksource: unknown attribute(s) method (allowed: source, copy_method, size, create, format); did you mean copy_method?\n');
  assert.match(e.message, /\n {2}- domain\/devices\/disk\[2\]\/vbpreparecdrom: unknown attribute\(s\) sorce, colour \(allowed: [^)]*\); did you mean source for sorce\?/);
});

// xmllint's errors: file:LINE: parser error : MESSAGE
async function xmllint(file: string): Promise<{ line: number; message: string }[]> {
  const run = await execa('xmllint', ['--noout', file], { reject: false });
  return [...run.stderr.matchAll(/^[^\n]*:(\d+): parser error : ([^\n]*)$/gm)].map((m) => ({ line: Number(m[1]), message: m[2]! }));
}

test('compared with xmllint --noout on the same files: the same verdict, the same first place, the same element left open', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-xmllint-'));
  try {
    const files: Record<string, string> = {
      slide,
      several,
      unclosed: '<domain>\n  <a>\n</domain>\n',
      misspelt: '<domain>\n  <vbconfig></vbconfg>\n</domain>\n',
      truncated: '<domain>\n  <a>\n',
      attributes: "<domain>\n  <b c='1' c='2'/>\n  <d e f='1'/>\n  <g h='<'/>\n</domain>\n",
    };
    for (const [name, text] of Object.entries(files)) {
      const file = join(dir, `${name}.xml`);
      writeFileSync(file, text);
      const theirs = await xmllint(file);
      const ours = wellFormednessProblems(text);
      assert.ok(theirs.length > 0 && ours.length > 0, `${name}: both find it not well-formed`);
      assert.is(ours[0]!.line, theirs[0]!.line, `${name}: the first problem on the same line`);
      // every line xmllint complains about first-hand (not a cascade of its own recovery) is one of ours
      const ourLines = new Set(ours.map((p) => p.line));
      for (const t of theirs.filter(
        (t) => !/^(Opening and ending tag mismatch: \S+ line \d+ and (domain|vbconfig)$|Premature end of data|attributes construct error|Couldn't find end)/.test(t.message) || t === theirs[0],
      )) {
        assert.ok(ourLines.has(t.line), `${name}: xmllint's "${t.message}" at line ${t.line} is reported too (${JSON.stringify(ours)})`);
      }
      const mismatch = /^Opening and ending tag mismatch: (\S+) line (\d+) and (\S+)$/.exec(theirs[0]!.message);
      if (mismatch) {
        const [, opened, line, closing] = mismatch;
        assert.match(ours[0]!.reason, `the end tag </${closing}> does not match the open element <${opened}> (line ${line}, column `, name);
      }
    }
    // what xmllint accepts is accepted: the shipped templates and the slides' examples
    for (const file of [
      ...readdirSync(domainsDir)
        .filter((f) => f.endsWith('.xml'))
        .map((f) => join(domainsDir, f)),
      ...readdirSync(join(domainsDir, 'examples')).map((f) => join(domainsDir, 'examples', f)),
    ]) {
      assert.equal(await xmllint(file), [], file);
      assert.equal(wellFormednessProblems(readFileSync(file, 'utf8')), [], file);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
