// A failure the user can act on: printed as one line on stderr, with the exit code it carries.
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}
