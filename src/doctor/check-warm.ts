import { join } from 'node:path';
import { loadTemplate } from '../domain/parse-template.js';
import { listTemplates } from '../domain/select-template.js';
import { planWarmBuild } from '../warm/build-warm.js';
import { openWarmEntry } from '../warm/warm-entry.js';
import { isWaiting, listPoolGuests } from '../warm/pool-guest.js';
import { ok, warn, type CheckOutcome, type CheckResult, type ConfiguredContext } from './check-result.js';

/**
 * Every <vbwarmstart/> template has a current saved state for its default size: a warn when it
 * has none or a stale one (its jobs boot meanwhile); with a pool, how many of its guests wait. Templates that do not load are the
 * templates check's; templates without warm start have no line.
 */
export async function checkWarm(ctx: ConfiguredContext): Promise<CheckOutcome> {
  const { config } = ctx;
  const lines: CheckResult[] = [];
  for (const name of listTemplates(config.domainsDir)) {
    let template;
    try {
      template = await loadTemplate(join(config.domainsDir, `${name}.xml`));
    } catch {
      continue;
    }
    if (!template.vb.warmStart) continue;
    const check = `warm ${name}`;
    const size = { vcpus: template.size.vcpus.default.value, memoryMiB: template.size.memoryMiB.default.value };
    const build = planWarmBuild(config, template, size, join(config.stateDir, 'warm', '.doctor'), '0');
    if ('skipped' in build) {
      lines.push(warn(check, `its guest cannot be saved: ${build.skipped}`, 'fix the template (`vmbatch validate`); its jobs boot meanwhile'));
      continue;
    }
    const opened = openWarmEntry(config.stateDir, build.plan.entry, build.plan.key, size);
    const { pool, build: builder } = template.vb.warmStart;
    if (!('entry' in opened)) {
      // build='auto': the next job's prologue builds it; until then its jobs boot
      const hint = builder === 'auto' ? `its next job builds it in the background, or run \`vmbatch warm build ${name}\`` : `run \`vmbatch warm build ${name}\``;
      lines.push(warn(check, `its jobs boot instead of starting warm: ${opened.skipped}`, hint));
      continue;
    }
    const waiting = listPoolGuests(config.stateDir)
      .filter(isWaiting)
      .filter((g) => g.record.key === build.plan.key).length;
    const current = `saved state current (${size.vcpus} vCPU(s), ${size.memoryMiB} MiB, built ${opened.entry.meta.createdAt})`;
    // an empty pool is normal after its idle limit: the next job's prologue fills it again
    lines.push(
      pool === 0
        ? ok(check, current)
        : ok(check, `${current}; ${waiting} of ${pool} pool guest(s) waiting${waiting < pool ? ` (\`vmbatch warm fill ${name}\` starts them; each job's prologue tops the pool up)` : ''}`),
    );
  }
  return lines;
}
