/**
 * Dockerfiles as data: `dockerfile-ast` parses them (the parser of the Dockerfile language server
 * that VS Code's Docker extension uses), `dockerfile-utils` lints them (the same project's
 * validator: unknown instructions and flags, malformed arguments, deprecated forms...).
 */
import { readFileSync } from 'node:fs';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { ValidationSeverity, validate, type ValidatorSettings } from 'dockerfile-utils';
import { repoPath } from './files.js';

/** Every check the validator can be configured for, as an error (its defaults leave some at warning). */
const LINT_SETTINGS: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

type Diagnostic = ReturnType<typeof validate>[number];

export interface Stage {
  /** `AS <name>`, or null. */
  readonly name: string | null;
  /** The FROM image with ARG defaults substituted (`node:20.20.2-alpine3.23`, or a stage name). */
  readonly from: string;
  /** Instructions after FROM, up to the next FROM. */
  readonly instructions: Instruction[];
}

export interface ParsedDockerfile {
  readonly file: string;
  readonly text: string;
  readonly stages: Stage[];
  /** ARGs before the first FROM, with their defaults. */
  readonly globalArgs: Record<string, string | null>;
  readonly lint: Diagnostic[];
}

export function parseDockerfile(file: string): ParsedDockerfile {
  const text = readFileSync(repoPath(file), 'utf8');
  const dockerfile = DockerfileParser.parse(text);
  const globalArgs: Record<string, string | null> = {};
  for (const arg of dockerfile.getInitialARGs()) {
    const property = arg.getProperty();
    if (property) globalArgs[property.getName()] = property.getValue();
  }
  const stages: { name: string | null; from: string; instructions: Instruction[] }[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const from = instruction as unknown as import('dockerfile-ast').From;
      const image = (from.getImage() ?? '').replace(/\$\{?(\w+)\}?/g, (_, name: string) => globalArgs[name] ?? '');
      stages.push({ name: from.getBuildStage(), from: image, instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { file, text, stages, globalArgs, lint: validate(text, LINT_SETTINGS) };
}

/** Instructions of a stage with this keyword. */
export const instructionsOf = (stage: Stage, keyword: string): Instruction[] => stage.instructions.filter((i) => i.getKeyword() === keyword);

/** The exec-form (JSON array) arguments of CMD/ENTRYPOINT, or null for the shell form. */
export function execForm(instruction: Instruction): string[] | null {
  const raw = instruction.getArgumentsContent()?.trim() ?? '';
  if (!raw.startsWith('[')) return null;
  try {
    const parsed = JSON.parse(raw);
    return Array.isArray(parsed) && parsed.every((p) => typeof p === 'string') ? parsed : null;
  } catch {
    return null;
  }
}

/** `--from=<stage>` of a COPY, or null. */
export function copyFrom(instruction: Instruction): string | null {
  const flag = (instruction as unknown as import('dockerfile-ast').Copy).getFromFlag?.();
  return flag?.getValue() ?? null;
}

/** Sources and destination of a COPY (flags removed). */
export function copyPaths(instruction: Instruction): { sources: string[]; destination: string } {
  const args = instruction.getArguments().map((a) => a.getValue()).filter((v) => !v.startsWith('--'));
  return { sources: args.slice(0, -1), destination: args.at(-1) ?? '' };
}

/**
 * The stages an image can be built as: the last one (the default target) and every stage that no
 * later stage uses (neither `FROM <stage>` nor `COPY --from=<stage>`), i.e. the `--target`s.
 */
export function targetStages(parsed: ParsedDockerfile): Stage[] {
  const used = new Set<string>();
  for (const stage of parsed.stages) {
    used.add(stage.from);
    for (const copy of instructionsOf(stage, 'COPY')) {
      const from = copyFrom(copy);
      if (from) used.add(from);
    }
  }
  return parsed.stages.filter((s, i) => i === parsed.stages.length - 1 || (s.name !== null && !used.has(s.name)));
}

/** A stage and the stages it is built FROM, nearest first. */
export function lineage(parsed: ParsedDockerfile, stage: Stage): Stage[] {
  const chain = [stage];
  let current = stage;
  for (;;) {
    const parent = parsed.stages.find((s) => s.name === current.from);
    if (!parent || chain.includes(parent)) return chain;
    chain.push(parent);
    current = parent;
  }
}

/** The user a target stage runs as: its last USER, or its parent stage's. */
export function effectiveUser(parsed: ParsedDockerfile, stage: Stage): string | null {
  for (const s of lineage(parsed, stage)) {
    const users = instructionsOf(s, 'USER');
    if (users.length > 0) return users.at(-1)!.getArgumentsContent()?.trim() ?? null;
  }
  return null;
}

/** The last CMD/ENTRYPOINT of a target stage, looking through the stages it is built FROM. */
export function effective(parsed: ParsedDockerfile, stage: Stage, keyword: 'CMD' | 'ENTRYPOINT'): Instruction | null {
  for (const s of lineage(parsed, stage)) {
    const found = instructionsOf(s, keyword);
    if (found.length > 0) return found.at(-1)!;
  }
  return null;
}
