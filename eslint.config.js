// One type-aware linter for the whole tree; `npm run check` runs it with zero warnings allowed.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["**/node_modules/**", "**/dist/**", "data/**"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["*.js", "*.mjs", "apps/server/test/*.mjs"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["apps/web/**/*.{ts,tsx}"],
    plugins: { "react-hooks": reactHooks },
    rules: reactHooks.configs.recommended.rules,
  },
  {
    // A module's only door is its index.ts (CONVENTIONS.md "Modules"): another module reaches it there or not at all.
    files: ["apps/server/src/modules/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^\\.\\./(?!\\.\\.)[^/]+/(?!index\\.ts$).+",
              message:
                "Import another module only through its door, ../<module>/index.ts (CONVENTIONS.md, Modules); export there what it may offer.",
            },
          ],
        },
      ],
    },
  },
  {
    // Roles, the app, platform, seeds, tests, benches and e2e meet modules only at their doors too.
    files: [
      "apps/server/src/*.ts",
      "apps/server/src/!(modules)/**/*.ts",
      "apps/server/test/**/*.ts",
      "bench/**/*.ts",
      "e2e/**/*.ts",
    ],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "/modules/[^/]+/(?!index\\.ts$).+",
              message:
                "Import a module only through its door, modules/<module>/index.ts (CONVENTIONS.md, Modules); export there what it may offer.",
            },
          ],
        },
      ],
    },
  },
  {
    // Platform code knows no module (CONVENTIONS.md, Modules): modules build on the platform, never the reverse.
    // What a platform part needs of a module comes in as a typed option from the role that wires both
    // (jobs.routes.ts's requireAdmin). Platform tests may sign a caller in through auth's door.
    files: ["apps/server/src/platform/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "/modules/",
              message:
                "Platform code imports no module (CONVENTIONS.md, Modules): take what it needs as a typed option, wired by a role.",
            },
          ],
        },
      ],
    },
  },
);
