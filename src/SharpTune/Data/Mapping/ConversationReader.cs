using System.Text.Json.Nodes;
using SharpTune.Data.Sources;
using SharpTune.Data.Templates;

namespace SharpTune.Data.Mapping;

/// <summary>
/// Reads a conversation from a row: OpenAI style <c>messages</c> (<c>role</c>/<c>content</c>) or ShareGPT
/// <c>conversations</c> (<c>from</c>/<c>value</c>, with human→user, gpt→assistant). The field path is configurable.
/// </summary>
public sealed class ConversationReader(string? fieldPath = null)
{
    private static readonly Dictionary<string, string> ShareGptRoles = new(StringComparer.OrdinalIgnoreCase)
    {
        ["human"] = "user", ["user"] = "user", ["gpt"] = "assistant", ["assistant"] = "assistant", ["chatgpt"] = "assistant",
        ["bing"] = "assistant", ["bard"] = "assistant", ["system"] = "system",
    };

    public IReadOnlyList<ChatMessage> Read(DataRecord record)
    {
        var candidates = fieldPath is not null ? [fieldPath] : new[] { "messages", "conversations" };
        foreach (var candidate in candidates)
        {
            var path = new FieldPath(candidate);
            if (!path.TryResolve(record.Fields, out var node) || node is null)
            {
                continue;
            }

            if (node is not JsonArray array)
            {
                throw new BadRowException(record.Source, record.RowNumber, path.Text, "expected an array of messages");
            }

            var messages = new List<ChatMessage>();
            for (int i = 0; i < array.Count; i++)
            {
                string where = $"{path.Text}.{i}";
                if (array[i] is not JsonObject message)
                {
                    throw new BadRowException(record.Source, record.RowNumber, where, "expected a message object");
                }

                bool shareGpt = message.ContainsKey("from");
                string role = Text(record, message, shareGpt ? "from" : "role", where);
                string content = Text(record, message, shareGpt ? "value" : "content", where, allowEmpty: true);
                if (shareGpt)
                {
                    role = ShareGptRoles.TryGetValue(role, out var mapped) ? mapped
                        : throw new BadRowException(record.Source, record.RowNumber, where + ".from", $"unknown speaker '{role}'");
                }

                messages.Add(new ChatMessage(role, content));
            }

            if (messages.Count == 0)
            {
                throw new BadRowException(record.Source, record.RowNumber, path.Text, "empty conversation");
            }

            return messages;
        }

        throw new BadRowException(record.Source, record.RowNumber, fieldPath ?? "messages", "missing (no messages or conversations field)");
    }

    private static string Text(DataRecord record, JsonObject message, string name, string where, bool allowEmpty = false)
    {
        if (message[name] is not JsonValue value || !value.TryGetValue<string>(out var text))
        {
            throw new BadRowException(record.Source, record.RowNumber, $"{where}.{name}", "missing or not text");
        }

        if (!allowEmpty && text.Length == 0)
        {
            throw new BadRowException(record.Source, record.RowNumber, $"{where}.{name}", "empty text");
        }

        return text;
    }
}
