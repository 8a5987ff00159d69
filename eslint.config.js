import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * Lint runs in the test command, with type information (typescript-eslint's type-checked rules):
 * floating and misused promises, awaits of non-thenables and non-exhaustive switches are what the
 * compiler lets through in async-heavy code. Rules beyond the recommended sets encode project
 * conventions: no console in services (use the redacting logger), no enums (erasable syntax only),
 * imports of types as types.
 */
export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/.turbo/**", "bench/results/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: "module",
      // Root files outside every workspace (this file, vitest.config.ts) get the base compiler options (Node types, nodenext).
      parserOptions: { projectService: { allowDefaultProject: ["*.js", "*.ts"], defaultProject: "tsconfig.base.json" }, tsconfigRootDir: import.meta.dirname },
      globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", fetch: "readonly", AbortSignal: "readonly", TextEncoder: "readonly", TextDecoder: "readonly", structuredClone: "readonly", Response: "readonly", NodeJS: "readonly" },
    },
    rules: {
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      "no-restricted-syntax": ["error", { selector: "TSEnumDeclaration", message: "Enums are not erasable; use an `as const` table." }],
      eqeqeq: ["error", "always"],
      // Async functions without await are how this code implements Promise-returning ports and fakes: a throw becomes a rejection, which is what callers expect.
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    files: ["services/**/*.ts", "shared/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: { "no-console": "error" },
  },
  {
    // vitest's asymmetric matchers (expect.any(...), expect.objectContaining(...), ...) are typed `any`, and assigning them into an expected value is their whole use.
    files: ["**/*.test.ts", "**/*.test-suite.ts"],
    rules: { "@typescript-eslint/no-unsafe-assignment": "off" },
  },
);
