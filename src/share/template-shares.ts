import type { VbAttrs } from '../domain/vb-tags.js';

/**
 * What is wrong with a template's <vbshare> list as a whole (each tag's attributes are checked
 * by its schema): a source shared twice, virtiofs under Xen, staging without an SSH remoteshell.
 */
export function shareProblems(shares: VbAttrs<'vbshare'>[], t: { hypervisor: string | undefined; sshRemoteshell: boolean }): string[] {
  const problems: string[] = [];
  const where = 'domain/vbconfig/vbshare';
  const seen = new Set<string>();
  for (const share of shares) {
    const source = share.source.replace(/\/+$/, '');
    if (seen.has(source)) problems.push(`${where}: source='${share.source}' is shared twice`);
    seen.add(source);
  }
  if ((t.hypervisor === 'XEN3' || t.hypervisor === 'XEN4') && shares.some((s) => s.method === 'virtiofs')) {
    problems.push(`${where}: method='virtiofs' needs QEMU or KVM; a Xen guest can have the working directory staged (method='stage')`);
  }
  if (!t.sshRemoteshell && shares.some((s) => s.method === 'stage')) {
    problems.push(`${where}: method='stage' copies over the job's SSH channel: the template needs <vbsshchannel/> and no <vbremoteshell mode='console'>`);
  }
  return problems;
}
