namespace SharpTune.Runtime.Elf;

/// <summary>The System V ABI ELF hash, used by <c>vna_hash</c> in symbol-version requirements.</summary>
public static class ElfHash
{
    public static uint Compute(string name)
    {
        uint h = 0;
        foreach (char c in name)
        {
            h = (h << 4) + (byte)c;
            uint g = h & 0xf0000000;
            if (g != 0)
            {
                h ^= g >> 24;
            }

            h &= ~g;
        }

        return h;
    }
}
