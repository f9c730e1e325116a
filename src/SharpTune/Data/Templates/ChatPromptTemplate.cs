using SharpTune.Data.Mapping;
using SharpTune.Data.Sources;

namespace SharpTune.Data.Templates;

/// <summary>Renders a row's conversation (<c>messages</c> or ShareGPT <c>conversations</c>) with a chat template for training.</summary>
public sealed class ChatPromptTemplate(IChatTemplate chat, ConversationReader? reader = null) : IPromptTemplate
{
    private readonly ConversationReader _reader = reader ?? new ConversationReader();

    public string Name => chat.Name;

    public IChatTemplate Chat => chat;

    public string Fingerprint => $"chat|{chat.Name}|{chat.Format([new ChatMessage("system", "s"), new ChatMessage("user", "u"), new ChatMessage("assistant", "a")], false)}";

    public RenderedPrompt Render(DataRecord record, FieldMapping mapping)
    {
        var messages = _reader.Read(record);
        if (!messages.Any(m => m.Role == "assistant"))
        {
            throw new BadRowException(record.Source, record.RowNumber, "messages", "no assistant message to learn from");
        }

        try
        {
            return new RenderedPrompt(chat.Render(messages, addGenerationPrompt: false), AppendEos: false);
        }
        catch (SharpTuneException e) when (e is not BadRowException)
        {
            throw new BadRowException(record.Source, record.RowNumber, "messages", e.Message, e);
        }
    }
}
