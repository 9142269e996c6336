/** Files of `p2p new app DIR` (its first service comes from the basic template). */
import { VERSION } from "../version.js";

export function appFiles(name: string): Record<string, string> {
  const pkg = {
    name,
    version: "0.1.0",
    private: true,
    type: "module",
    scripts: {
      start: "p2p coordinator --services-dir ./services",
      worker: "p2p worker --services-dir ./services",
      typecheck: "p2p check --services-dir ./services",
      test: "tsx --test services/*/*.test.ts",
    },
    dependencies: { "p2p-core": `^${VERSION}` },
    devDependencies: { "@types/node": "^20.19.0", tsx: "^4.20.0", typescript: "~5.9.2" },
  };
  const tsconfig = {
    compilerOptions: {
      target: "ES2022",
      module: "ESNext",
      moduleResolution: "Bundler",
      lib: ["ES2023"],
      types: ["node"],
      strict: true,
      esModuleInterop: true,
      skipLibCheck: true,
      noEmit: true,
    },
    include: ["services"],
  };
  return {
    "package.json": `${JSON.stringify(pkg, null, 2)}\n`,
    "tsconfig.json": `${JSON.stringify(tsconfig, null, 2)}\n`,
    ".gitignore": "node_modules/\nlogs/\ndata/\n",
    "README.md": `# ${name}

Services for [P2P Core](https://www.npmjs.com/package/p2p-core), one folder each under \`services/\`.

\`\`\`bash
npm install
npm start                      # one node on 127.0.0.1:8001 with every service of ./services
npm test                       # each service's tests, in-process (p2p-core/testing)
npm run typecheck              # p2p check: services against p2p-core's types
npx p2p new service orders     # another service (--template postgres for one with a database)
\`\`\`
`,
  };
}
