import type { Config } from '../config/schema.js';

/** The site's allow/deny rules for base systems and runtime environments (the Janitor's allow_base, deny_rte, ...). */
export interface SiteRules {
  allowBase: string[];
  denyBase: string[];
  allowRte: string[];
  denyRte: string[];
}

/** The rules of a configuration. */
export function siteRulesOf(config: Config): SiteRules {
  const { allowBase, denyBase, allowRte, denyRte } = config.catalogue;
  return { allowBase, denyBase, allowRte, denyRte };
}

/**
 * Why a name is refused by an allow/deny pair, or undefined when it is allowed: a name is
 * allowed when an allow pattern matches it and no deny pattern does (deny wins).
 */
export function refusedBy(name: string, allow: string[], deny: string[], kind: 'Rte' | 'Base'): string | undefined {
  const denied = deny.find((p) => globMatches(p, name));
  if (denied !== undefined) return `deny${kind} '${denied}' matches it`;
  if (!allow.some((p) => globMatches(p, name))) return `no allow${kind} pattern matches it (allow${kind}: ${allow.map((p) => `'${p}'`).join(', ') || 'none'})`;
  return undefined;
}

const compiled = new Map<string, RegExp>();

/** Glob match of a whole name: `*` any run of characters (also '/'), `?` one character. */
export function globMatches(pattern: string, name: string): boolean {
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      's',
    );
    compiled.set(pattern, re);
  }
  return re.test(name);
}
