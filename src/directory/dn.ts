/**
 * Distinguished names compared the way directories compare them: attribute types and values
 * case-insensitively, spaces around separators ignored, `\,` and `\2C` the same character.
 */

import { lower } from './text.js';

const SPECIAL = new Set([',', '+', '"', '\\', '<', '>', ';', '=']);

function unescapeValue(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      // Collect a run of hex escapes: they may encode one multi-byte UTF-8 character.
      const bytes: number[] = [];
      while (raw[i] === '\\' && /^[0-9a-fA-F]{2}$/.test(raw.slice(i + 1, i + 3))) {
        bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
        i += 3;
      }
      i--;
      out += Buffer.from(bytes).toString('utf8');
    } else if (i + 1 < raw.length) {
      out += raw[i + 1];
      i++;
    }
  }
  return out;
}

function escapeValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (
      SPECIAL.has(c) ||
      (c === '#' && i === 0) ||
      (c === ' ' && (i === 0 || i === value.length - 1))
    ) {
      out += `\\${c}`;
    } else {
      out += c;
    }
  }
  return out;
}

/** Trims spaces around a value, but not an escaped trailing space (`x\\ `). */
function trimUnescaped(value: string): string {
  let end = value.length;
  while (end > 0 && value[end - 1] === ' ') {
    let slashes = 0;
    for (let i = end - 2; i >= 0 && value[i] === '\\'; i--) slashes++;
    if (slashes % 2 === 1) break;
    end--;
  }
  return value.slice(0, end).trimStart();
}

/** Splits on unescaped `sep`, honouring backslash escapes and quoted strings. */
function splitUnescaped(s: string, seps: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      current += c + s[i + 1]!;
      i++;
    } else if (c === '"') {
      quoted = !quoted;
      current += c;
    } else if (!quoted && seps.includes(c)) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

/**
 * The canonical form of a DN: `cn=joe  smith , OU=People,dc=Example` and
 * `CN=Joe  Smith,ou=people,DC=example` both give `cn=joe  smith,ou=people,dc=example`.
 * Multi-valued RDNs are sorted so their order does not matter.
 */
export function normalizeDn(dn: string): string {
  if (PLAIN_DN.test(dn)) return lower(dn);
  return normalizeDnSlow(dn);
}

// One AVA per RDN, a plain attribute type, nothing to unescape, unquote, trim or re-escape: the
// canonical form of such a DN (nearly every DN a directory returns) is its lower case.
const PLAIN_AVA = String.raw`[A-Za-z][A-Za-z0-9-]*=[^\s,=+"\\<>;#](?:[^,=+"\\<>;]*[^\s,=+"\\<>;])?`;
const PLAIN_DN = new RegExp(`^${PLAIN_AVA}(?:,${PLAIN_AVA})*$`);

export function normalizeDnSlow(dn: string): string {
  const trimmed = dn.trim();
  if (trimmed === '') return '';
  return splitUnescaped(trimmed, ',;')
    .map((rdn) =>
      splitUnescaped(rdn, '+')
        .map((ava) => {
          const eq = ava.indexOf('=');
          if (eq < 0) return ava.trim().toLowerCase();
          const type = ava.slice(0, eq).trim().toLowerCase();
          let value = trimUnescaped(ava.slice(eq + 1));
          if (value.startsWith('"') && value.endsWith('"') && value.length >= 2)
            value = value.slice(1, -1);
          return `${type}=${escapeValue(unescapeValue(value).toLowerCase())}`;
        })
        .sort()
        .join('+'),
    )
    .join(',');
}

/** True when `dn` is `base` or lies under it. Both must be normalized. */
export function isUnder(dn: string, base: string): boolean {
  return base === '' || dn === base || dn.endsWith(`,${base}`);
}

/** The value of the first RDN, unescaped: `CN=IT Admins,OU=Groups,...` gives `IT Admins`. */
export function firstRdnValue(dn: string): string {
  const first = splitUnescaped(dn.trim(), ',;')[0] ?? '';
  const eq = first.indexOf('=');
  return unescapeValue(eq < 0 ? first : first.slice(eq + 1).trim());
}

/** An attribute type as a DN spells it: a descriptor (`uid`, `cn`) or a numeric OID. */
const ATTRIBUTE_TYPE = /^\s*(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)*)\s*$/;

/**
 * Whether `value` has the shape of a DN (RFC 4514): RDNs separated by `,`, each one or more
 * `type=value` joined by `+`, every type a descriptor or an OID. A posixGroup memberUid is
 * meant to hold a login, but hand-made trees often put the member's DN there.
 */
export function looksLikeDn(value: string): boolean {
  if (!value.includes('=')) return false; // a login: the usual case, decided at once
  const trimmed = value.trim();
  return splitUnescaped(trimmed, ',;').every((rdn) =>
    splitUnescaped(rdn, '+').every((ava) => {
      const eq = ava.indexOf('=');
      return eq > 0 && ATTRIBUTE_TYPE.test(ava.slice(0, eq));
    }),
  );
}

/** RFC 4517 BitString, the optional UID of a nameAndOptionalUID: `'0101'B`. */
const OPTIONAL_UID = /^#'[01]*'B\s*$/;

/**
 * A uniqueMember value (RFC 4517 nameAndOptionalUID) without its optional UID:
 * `uid=ann,ou=People,dc=example,dc=com#'0101'B` gives `uid=ann,ou=People,dc=example,dc=com`.
 * Only a trailing `#'<bits>'B` goes: an escaped `\#` is part of the value, and a `#` that starts
 * a value (`cn=#04024869`, hex BER) is not a UID. A DN without one is returned as it is.
 */
export function withoutOptionalUid(value: string): string {
  const at = value.lastIndexOf('#');
  if (at <= 0 || !OPTIONAL_UID.test(value.slice(at))) return value;
  let slashes = 0;
  for (let i = at - 1; i >= 0 && value[i] === '\\'; i--) slashes++;
  if (slashes % 2 === 1) return value;
  if (value.slice(0, at).trimEnd().endsWith('=')) return value;
  return value.slice(0, at);
}
