using System.CommandLine;

namespace ModelBox.Cli;

/// <summary>
/// `modelbox completion bash|zsh|fish`: a script that asks the executable itself for completions through
/// System.CommandLine's <c>[suggest:POSITION]</c> directive, so commands, options and their values complete exactly as
/// this version parses them. Install with e.g. <c>source &lt;(modelbox completion bash)</c>.
/// </summary>
internal static class CompletionCommand
{
    public static Command Create()
    {
        var shell = new Argument<string>("shell") { Description = "bash, zsh or fish" };
        shell.AcceptOnlyFromAmong("bash", "zsh", "fish");
        var command = new Command("completion", "Print a shell completion script: source <(modelbox completion bash), or zsh / fish") { shell };
        command.SetAction(parseResult => Console.Write(Script(parseResult.GetRequiredValue(shell))));
        return command;
    }

    public static string Script(string shell) => shell switch
    {
        "bash" => """
            # modelbox completion for bash: source <(modelbox completion bash)
            _modelbox_complete() {
                local IFS=$'\n'
                COMPREPLY=($(compgen -W "$(modelbox "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}"))
            }
            complete -o default -F _modelbox_complete modelbox

            """,
        "zsh" => """
            # modelbox completion for zsh: source <(modelbox completion zsh)
            _modelbox_complete() {
                local -a candidates
                candidates=(${(f)"$(modelbox "[suggest:${CURSOR}]" "${BUFFER}" 2>/dev/null)"})
                compadd -- $candidates
            }
            compdef _modelbox_complete modelbox

            """,
        _ => """
            # modelbox completion for fish: modelbox completion fish | source
            complete -c modelbox -f -a '(modelbox "[suggest:"(string length -- (commandline -cp))"]" (commandline -cp) 2>/dev/null)'

            """,
    };
}
