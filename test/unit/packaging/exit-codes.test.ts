import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../../src/errors.js';
import { readRepoFile } from './support.js';

describe('exit codes', () => {
  it("are the README's: its paragraph names each code errors.ts defines, and no other", () => {
    // Arrange
    const readme = readRepoFile('README.md');
    const start = readme.indexOf('Exit codes: ');
    const paragraph = readme.slice(start, readme.indexOf('\n\n', start));

    // Act
    const named = [...paragraph.matchAll(/\*\*(\d+)\*\*/g)].map((m) => Number(m[1]));

    // Assert
    expect(start).toBeGreaterThan(-1);
    expect(named).toEqual(Object.keys(EXIT_CODES).map(Number));
  });
});
