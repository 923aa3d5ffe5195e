import { readdirSync } from 'node:fs';
import { ESLint, Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

/** The `no-restricted-imports` messages eslint.config.js gives `source` placed at `file`. */
async function restricted(file: string, source: string): Promise<string[]> {
  const config = (await new ESLint().calculateConfigForFile(file)) as {
    rules?: Record<string, Linter.RuleEntry>;
  };
  const rule = config.rules?.['no-restricted-imports'];
  if (rule === undefined) return [];
  const messages = new Linter().verify(
    source,
    [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        rules: { 'no-restricted-imports': rule },
      },
    ],
    file,
  );
  return messages.map((m) => m.message);
}

describe('reconcile/ depends on the UsersApi interface, not the client', () => {
  it.each([
    ["import type { ApiClient } from '../api/client.js';"],
    ["import { createApiClient } from '../api/client.js';"],
    ["import type { UsersEndpoints } from '../api/endpoints.js';"],
    ["import { RetryingSender } from '../api/sender.js';"],
    ["import type { HttpTransport } from '../api/transport.js';"],
    ["import { createDispatcher } from '../api/http.js';"],
    // The index re-exports the client; the others are its parts, not the interface.
    ["import { ApiClient } from '../api/index.js';"],
    ["import { decideRetry } from '../api/retry.js';"],
    ["import { RequestLimiter } from '../api/limiter.js';"],
    ["import { ListingDecoder } from '../api/listing-stream.js';"],
  ])('refuses %s in reconcile/apply.ts and reconcile/plan.ts', async (source) => {
    // Arrange
    const files = ['src/reconcile/apply.ts', 'src/reconcile/plan.ts'];

    // Act
    const found = await Promise.all(files.map((file) => restricted(file, source)));

    // Assert
    for (const messages of found) {
      expect(messages).toEqual([expect.stringContaining('UsersApi interface')]);
    }
  });

  it('allows the interface, the ids and the schema types', async () => {
    // Arrange
    const source = [
      "import type { UsersApi } from '../api/users-api.js';",
      "import { asEmailId } from '../api/ids.js';",
      "import type { OrgUser } from '../api/schema.js';",
    ].join('\n');

    // Act
    const messages = await restricted('src/reconcile/run.ts', source);

    // Assert
    expect(messages).toEqual([]);
  });

  it('keeps the planner free of I/O as well', async () => {
    // Act
    const messages = await restricted(
      'src/reconcile/plan.ts',
      "import { readFileSync } from 'node:fs';",
    );

    // Assert
    expect(messages).toEqual([expect.stringContaining('The planner is pure')]);
  });

  // The shell of reconcile/: the modules that read and write (files, the API). Any other module
  // there is pure, and the fence must name it.
  const shell = new Set(['apply.ts', 'run.ts', 'saved-plan.ts']);
  const pure = readdirSync('src/reconcile').filter((f) => f.endsWith('.ts') && !shell.has(f));

  it.each(pure.flatMap((f) => ['node:fs', 'child_process', 'dns', 'os'].map((m) => [f, m])))(
    'keeps reconcile/%s free of I/O: refuses %s',
    async (file, module) => {
      // Act
      const messages = await restricted(`src/reconcile/${file}`, `import '${module}';`);

      // Assert
      expect(messages).toEqual([expect.stringContaining('The planner is pure')]);
    },
  );
});
