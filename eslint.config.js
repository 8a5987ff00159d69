import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * Lint runs in the test command. Rules beyond the recommended sets encode project conventions:
 * no console in services (use the redacting logger), no floating promises in spirit via
 * require-await-free async, and imports of types as types.
 */
export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/.turbo/**", "bench/results/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", fetch: "readonly", AbortSignal: "readonly", TextEncoder: "readonly", TextDecoder: "readonly", structuredClone: "readonly", Response: "readonly", NodeJS: "readonly" } },
    rules: {
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "no-restricted-syntax": ["error", { selector: "TSEnumDeclaration", message: "Enums are not erasable; use an `as const` table." }],
      eqeqeq: ["error", "always"],
    },
  },
  {
    files: ["services/**/*.ts", "shared/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: { "no-console": "error" },
  },
);
